import { apiDocFunctions } from './http-api-docs';
import { unmatchedApiFunction } from './http-api-unmatched';
import { connectionFunctions } from './http-connections';
import { processFunctions } from './http-processes';
import { runTraceFunctions } from './http-run-trace';
import { runFunctions } from './http-runs';
import { settingsFunctions } from './http-settings';
import { connectionEventFunctions } from './queue-connection-events';
import { queueFunctions } from './queue-handlers';
import type { FunctionDefinition } from './registry';
import { timerFunctions } from './timer-keepalive';
import { maintenanceFunctions } from './timer-maintenance';

export const functionDefinitions: FunctionDefinition[] = [
  ...connectionFunctions,
  ...processFunctions,
  ...runFunctions,
  ...runTraceFunctions,
  ...queueFunctions,
  ...connectionEventFunctions,
  ...settingsFunctions,
  ...timerFunctions,
  ...maintenanceFunctions,
  ...apiDocFunctions(() => functionDefinitions),
  unmatchedApiFunction(() => functionDefinitions),
];
