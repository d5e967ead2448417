import { app } from '@azure/functions';
import { recordDependencySpans } from '../src/shared/dependency-spans';
import type { AzureMonitorPipeline } from './azure-monitor-pipeline';

/**
 * The app's spans (src/shared/spans.ts: event intake, run creation, steps, token acquisition, Graph calls, and the
 * dependency spans of other outgoing HTTP) exported to Application Insights, in Azure only (functions/index.ts; the
 * local instance records them itself). The host keeps its default telemetry mode: it sends a request per invocation
 * and the log lines, continuing a Service Bus message's `Diagnostic-Id`, so a run's spans and its invocations share
 * one operation_Id (the run's trace id).
 *
 * Started at the first invocation, not at import: the exporter and its SDKs are loaded then (cold import unchanged),
 * and the app settings are the real ones then (a pre-warmed instance gets them after the worker started). Flushed at
 * the end of every invocation, bounded, because Flex Consumption may freeze the instance right after it. Anything
 * wrong here is logged and the app runs on without export: telemetry never fails an invocation.
 */
const FLUSH_LIMIT_MS = 3000;

let pipeline: AzureMonitorPipeline | null | undefined;

function start(env: NodeJS.ProcessEnv): AzureMonitorPipeline | null {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (!connectionString || env.CONNECTIONS_LOCAL_MODE === 'true') return null;
  try {
    // A require inside a function: esbuild leaves this file to sdk/azure-monitor-pipeline.js (scripts/bundle-functions.mjs).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startAzureMonitorPipeline } = require('./azure-monitor-pipeline') as typeof import('./azure-monitor-pipeline');
    const started = startAzureMonitorPipeline({
      connectionString,
      ...(env.AZURE_CLIENT_ID ? { clientId: env.AZURE_CLIENT_ID } : {}),
      roleName: env.WEBSITE_SITE_NAME ?? 'connections',
    });
    // Here, not in the pipeline's file: the subscribers must use index.js's copy of spans.ts (its current span).
    recordDependencySpans();
    return started;
  } catch (e) {
    console.error(`Telemetry export not started: ${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? String(e)}`);
    return null;
  }
}

async function flush(): Promise<void> {
  if (!pipeline) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([pipeline.flush(), new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_LIMIT_MS)))]);
  } catch {
    // The exporter reports its own failures; the invocation's outcome stays the function's.
  } finally {
    clearTimeout(timer);
  }
}

/** Registers the hooks (once, from the Azure entry point). */
export function registerAzureTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  app.hook.preInvocation(() => {
    if (pipeline === undefined) pipeline = start(env);
  });
  app.hook.postInvocation(() => flush());
}
