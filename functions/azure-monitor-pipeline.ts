/**
 * The Azure Monitor export pipeline, loaded at the first invocation by azure-telemetry.ts (its own file in the deploy
 * package, sdk/azure-monitor-pipeline.js, so a cold import never compiles it): a tracer provider whose spans go to
 * Application Insights through `@azure/monitor-opentelemetry-exporter`.
 *
 * The component has local (instrumentation key) auth disabled, so ingestion needs an Entra token. The exporter takes a
 * `credential` option (AzureMonitorExporterOptions.credential: TokenCredential, 1.0.0-beta.47 config.d.ts) and does
 * not read APPLICATIONINSIGHTS_AUTHENTICATION_STRING (no reference to it in its build): the Function's user-assigned
 * identity is passed as ManagedIdentityCredential({clientId: AZURE_CLIENT_ID}); it holds Monitoring Metrics Publisher
 * on the component (infra/modules/role-assignments.bicep).
 */
import type { TokenCredential } from '@azure/core-auth';
import { ManagedIdentityCredential } from '@azure/identity';
import { AzureMonitorTraceExporter } from '@azure/monitor-opentelemetry-exporter';
import { trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface AzureMonitorPipeline {
  /** Sends what is buffered (Flex Consumption may freeze the instance as soon as an invocation ends). */
  flush(): Promise<void>;
  /** Flushes and stops the exporter's timers (tests; the platform ends the process itself). */
  shutdown(): Promise<void>;
}

export function startAzureMonitorPipeline(options: {
  connectionString: string;
  clientId?: string;
  roleName: string;
  /** Tests only: another Entra credential than the managed identity. */
  credential?: TokenCredential;
}): AzureMonitorPipeline {
  const credential =
    options.credential ??
    (options.clientId ? new ManagedIdentityCredential({ clientId: options.clientId }) : new ManagedIdentityCredential());
  const exporter = new AzureMonitorTraceExporter({ connectionString: options.connectionString, credential });
  const provider = new BasicTracerProvider({
    // service.name is Application Insights' cloud role name (the application map's node).
    resource: resourceFromAttributes({ 'service.name': options.roleName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // One global registration per process: @opentelemetry/api keeps it on globalThis, so the app's copy of the API in
  // index.js sees this provider.
  trace.setGlobalTracerProvider(provider);
  return { flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}
