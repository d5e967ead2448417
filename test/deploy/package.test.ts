/**
 * The deploy package, built as azd builds it and loaded as the Functions Node.js worker loads it (issue 10,
 * "azd deploy fails" and "Loaded the way the host loads it"). See test/support/azd-package.ts for the azd steps and
 * test/support/functions-worker-stand-in.cjs for the worker. What this cannot show without a subscription: that
 * Flex Consumption accepts the upload, that the real host resolves the identity-based connections, and cold start.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { functionDefinitions } from '../../functions/definitions';
import { serviceBusConnection } from '../../functions/registry';
import { tableNames } from '../../src/config/settings';
import { startAzurite, type LocalAzurite } from '../../src/local/azurite';
import { packageAsAzd, type AzdPackage } from '../support/azd-package';
import { bicepAppSettings } from '../support/bicep-app-settings';
import { bicepEnvironment } from '../support/deploy-environment';
import {
  measurePackage,
  renderPackageFigures,
  rewritePackageFigures,
  staleFigures,
  statedPackageFigures,
} from '../support/package-figures';
import {
  connectionsListWithoutToken,
  runInWorkerStandIn,
  workerNode,
  type HostInvocation,
  type WorkerResult,
} from '../support/worker-stand-in';

const projectRoot = path.resolve(__dirname, '..', '..');

/** Package size budget: the bundles are ~2.4 MB together; a package that needs node_modules would be two orders larger. */
const maxPackageBytes = 4 * 1024 * 1024;
const maxDeflatedBytes = 1024 * 1024;

let pkg: AzdPackage | undefined;
let packagingError: unknown;
let loaded: WorkerResult | undefined;

beforeAll(async () => {
  try {
    pkg = packageAsAzd(projectRoot, 'api');
    loaded = await runInWorkerStandIn(pkg.dir, bicepEnvironment(), [connectionsListWithoutToken()]);
  } catch (e) {
    packagingError = e;
  }
}, 240_000);

afterAll(() => {
  if (pkg) rmSync(pkg.dir, { recursive: true, force: true });
});

function built(): AzdPackage {
  if (packagingError) throw packagingError;
  return pkg!;
}

function worker(): WorkerResult {
  built();
  const result = loaded!;
  if (result.loadError || result.fatal)
    throw new Error(`the worker could not load the package: ${result.loadError ?? result.fatal}\n${result.stderr}`);
  return result;
}

describe('the deploy package azd builds', () => {
  it('builds and holds only what `main` needs, without node_modules', () => {
    const p = built();
    expect(p.remoteBuild).toBe(false);
    // index.js holds what the import needs; the Azure SDKs and jose, which the app loads on first use, are files of their own
    // (scripts/bundle-functions.mjs), so a cold worker compiles only what it runs.
    expect(p.files).toEqual([
      'host.json',
      'index.js',
      'package.json',
      'sdk/azure-data-tables.js',
      'sdk/azure-identity.js',
      'sdk/azure-keyvault-secrets.js',
      'sdk/azure-monitor-pipeline.js',
      'sdk/azure-msal-node.js',
      'sdk/azure-service-bus.js',
      'sdk/jose.js',
    ]);
    expect(p.bytes).toBeLessThan(maxPackageBytes);
    expect(p.deflatedBytes).toBeLessThan(maxDeflatedBytes);
    console.log(
      `deploy package: ${p.files.length} files, ${(p.bytes / 1e6).toFixed(2)} MB, ${(p.deflatedBytes / 1e6).toFixed(2)} MB deflated; steps: ${p.steps.join(' -> ')}`,
    );
  });
});

describe('the size docs/deploy.md states', () => {
  it('is the measured one (npm run report writes it; a plain run fails when it is off by more than a tenth)', () => {
    const measured = measurePackage(built());
    const docPath = path.join(projectRoot, 'docs', 'deploy.md');
    const doc = readFileSync(docPath, 'utf8');
    if (process.env.RELIABILITY_REPORT === 'write') {
      writeFileSync(docPath, rewritePackageFigures(doc, renderPackageFigures(measured)));
      return;
    }
    const stated = statedPackageFigures(doc);
    expect(stated).toBeDefined();
    const stale = staleFigures(stated!, measured);
    if (stale.length) {
      throw new Error(
        `docs/deploy.md states stale package figures (${stale.join(', ')}): run \`npm run report\` and commit docs/deploy.md. ` +
          `Measured: ${renderPackageFigures(measured)}`,
      );
    }
  });
});

describe('the deploy package loaded the way the Functions worker loads it', () => {
  it('runs on the Node.js the environment names: WORKER_NODE (Node 22 in CI, as Azure runs it) or this Node', () => {
    const expected = execFileSync(workerNode(), ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    expect(worker().nodeVersion).toBe(expected);
    // CI sets WORKER_NODE_MAJOR with WORKER_NODE, so a binary of another version cannot pass unnoticed.
    if (process.env.WORKER_NODE_MAJOR) expect(expected.split('.')[0]).toBe(process.env.WORKER_NODE_MAJOR);
    console.log(`deploy package worker: Node ${expected}`);
  });

  it('sets the @azure/functions programming model and keeps HTTP streaming off', () => {
    const w = worker();
    expect(w.programmingModel?.name).toBe('@azure/functions');
    // The Azure Monitor export (functions/azure-telemetry.ts): started at the first invocation, flushed after each.
    expect(w.hooks).toEqual({ preInvocation: 1, postInvocation: 1 });
    expect(w.capabilities).not.toHaveProperty('HttpUri');
  });

  it('registers every function of functions/definitions.ts with the binding metadata the host reads', () => {
    const w = worker();
    const registered = new Map(w.functions.map((f) => [f.name, f.rawBindings.map((b) => JSON.parse(b))]));
    expect([...registered.keys()].sort()).toEqual(functionDefinitions.map((f) => f.name).sort());
    const noDeferredBinding = { supportsDeferredBinding: 'false' };
    for (const f of functionDefinitions) {
      const bindings = registered.get(f.name);
      switch (f.kind) {
        case 'http':
          expect(bindings).toEqual([
            {
              name: expect.stringMatching(/^httpTrigger[0-9a-f]+$/),
              type: 'httpTrigger',
              direction: 'in',
              authLevel: 'anonymous',
              methods: f.methods,
              route: f.route,
              properties: noDeferredBinding,
            },
            { name: '$return', type: 'http', direction: 'out' },
          ]);
          break;
        case 'serviceBus':
          expect(bindings).toEqual([
            {
              name: expect.stringMatching(/^serviceBusTrigger[0-9a-f]+$/),
              type: 'serviceBusTrigger',
              direction: 'in',
              connection: 'ServiceBusConnection',
              queueName: f.queueName,
              isSessionsEnabled: f.isSessionsEnabled,
              properties: noDeferredBinding,
            },
          ]);
          break;
        case 'timer':
          expect(bindings).toEqual([
            {
              name: expect.stringMatching(/^timerTrigger[0-9a-f]+$/),
              type: 'timerTrigger',
              direction: 'in',
              schedule: f.schedule,
              properties: noDeferredBinding,
            },
          ]);
          break;
      }
    }
    // Spelled out, so a change to the shared list shows up here too.
    expect(registered.get('steps-run')?.[0]).toMatchObject({ queueName: 'process-steps', isSessionsEnabled: true });
    expect(registered.get('events-process')?.[0]).toMatchObject({ queueName: 'workpoint-events', isSessionsEnabled: false });
    expect(registered.get('connections-keepalive')?.[0]).toMatchObject({ schedule: '%KEEPALIVE_SCHEDULE%' });
    expect(registered.get('connections-maintenance')?.[0]).toMatchObject({ schedule: '%MAINTENANCE_SCHEDULE%' });
    expect(registered.get('connections-get')?.[0]).toMatchObject({ methods: ['GET'], route: 'connections/{id}' });
  });

  it('finds the identity-based connection and the %SETTING% of every trigger among the app settings Bicep writes', () => {
    const w = worker();
    const settings = bicepAppSettings();
    const bindings = w.functions.flatMap((f) => f.rawBindings.map((b) => JSON.parse(b) as Record<string, unknown>));
    const connections = new Set(bindings.flatMap((b) => (typeof b.connection === 'string' ? [b.connection] : [])));
    expect([...connections]).toEqual([serviceBusConnection]);
    for (const prefix of connections) {
      // The host's identity-based connection: <prefix>__fullyQualifiedNamespace, with a managed identity.
      expect(settings.has(`${prefix}__fullyQualifiedNamespace`)).toBe(true);
      expect(settings.get(`${prefix}__credential`)).toBe('managedidentity');
      expect(settings.has(`${prefix}__clientId`)).toBe(true);
      expect(settings.has(prefix)).toBe(false); // a connection string would win over the identity
    }
    const referenced = bindings.flatMap((b) =>
      Object.values(b).flatMap((v) => (typeof v === 'string' ? [...v.matchAll(/%([^%]+)%/g)].map((m) => m[1]) : [])),
    );
    expect(referenced).toEqual(['KEEPALIVE_SCHEDULE', 'MAINTENANCE_SCHEDULE']);
    for (const name of referenced) expect(settings.has(name)).toBe(true);
  });

  it('answers a no-token admin call with 401 through the package, with the Bicep app settings', () => {
    const [outcome] = worker().invocations;
    expect(outcome.error).toBeUndefined();
    // The first invocation started the Azure Monitor export (sdk/azure-monitor-pipeline.js, functions/azure-telemetry.ts)
    // from Bicep's APPLICATIONINSIGHTS_CONNECTION_STRING without failing, and the answer did not wait on it.
    expect(worker().stderr).not.toContain('Telemetry export not started');
    const http = outcome.response?.returnValue?.http;
    expect(http?.statusCode).toBe('401');
    expect(http?.headers?.['www-authenticate']).toBe('Bearer');
    expect(JSON.parse(http?.body?.bytes?.utf8 ?? 'null')).toEqual({ error: { code: 'unauthenticated', message: expect.any(String) } });
  });

  describe('a Service Bus delivery with host-shaped trigger metadata', () => {
    // Tables in Azure are reached with the managed identity, which exists only on an instance. So, changed from
    // Bicep's settings: Azurite's connection string (allowed in local mode only), and in local mode the vault
    // must be a stand-in on localhost (not called on this path).
    let azurite: LocalAzurite;
    const prefix = `t${randomUUID().slice(0, 8)}`;
    beforeAll(async () => {
      azurite = await startAzurite();
    }, 60_000);
    afterAll(async () => {
      await azurite?.stop();
    });

    it('reads MessageId, SessionId and DeliveryCount as the host encodes them, and dead-letters a step from another session', async () => {
      const p = built();
      const runId = '1764300000000-0123456789abcdef';
      const body = { tenantId: randomUUID(), runId, stepIndex: 0 };
      // Trigger metadata as azure-functions-host encodes it (GrpcMessageConversionExtensions.ToRpc): strings as
      // `string`, numbers and objects as `json`; the body of a JSON message as `string`.
      const delivery: HostInvocation = {
        functionName: 'steps-run',
        invocationId: randomUUID(),
        triggerData: { string: JSON.stringify(body) },
        triggerMetadata: {
          MessageId: { string: `${runId}:0` },
          SessionId: { string: 'another-run' },
          DeliveryCount: { json: '3' },
          SequenceNumber: { json: '42' },
          EnqueuedTimeUtc: { string: '2026-11-28T05:00:00Z' },
          ContentType: { string: 'application/json' },
          ApplicationProperties: { json: '{}' },
          UserProperties: { json: '{}' },
        },
      };
      const env = {
        ...bicepEnvironment(),
        CONNECTIONS_LOCAL_MODE: 'true',
        TABLES_CONNECTION_STRING: azurite.connectionString,
        TABLES_PREFIX: prefix,
        KEY_VAULT_URI: 'https://127.0.0.1:9/',
      };
      const result = await runInWorkerStandIn(p.dir, env, [delivery]);
      expect(result.loadError).toBeUndefined();
      const [outcome] = result.invocations;
      // Returning completes the message: it must not be retried.
      expect(outcome.error).toBeUndefined();
      expect(outcome.logs?.map((l) => l.message)).toContainEqual(
        expect.stringContaining(`Dead-lettered a message {"queue":"process-steps","messageId":"${runId}:0"`),
      );
      const table = TableClient.fromConnectionString(azurite.connectionString, tableNames({ TABLES_PREFIX: prefix }).deadLetters, {
        allowInsecureConnection: true,
      });
      const rows = [];
      for await (const row of table.listEntities<{ messageId: string; reason: string }>()) rows.push(row);
      expect(rows).toEqual([
        expect.objectContaining({
          partitionKey: 'process-steps',
          messageId: `${runId}:0`,
          reason: expect.stringContaining('session "another-run"'),
        }),
      ]);
    });
  });
});
