// Entry point for the Azure Functions host: registers every function from the one shared list.
import { app } from '@azure/functions';
import { functionDefinitions } from './definitions';
import { registerAzureTelemetry } from './azure-telemetry';
import { serviceBusConnection } from './registry';

app.setup({ enableHttpStream: false });
registerAzureTelemetry();

for (const f of functionDefinitions) {
  switch (f.kind) {
    case 'http':
      app.http(f.name, { methods: f.methods, route: f.route, authLevel: 'anonymous', handler: f.handler });
      break;
    case 'serviceBus':
      app.serviceBusQueue(f.name, {
        connection: serviceBusConnection,
        queueName: f.queueName,
        isSessionsEnabled: f.isSessionsEnabled,
        handler: f.handler,
      });
      break;
    case 'timer':
      app.timer(f.name, { schedule: f.schedule, handler: f.handler });
      break;
  }
}
