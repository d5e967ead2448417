/**
 * The Azure Monitor export pipeline (functions/azure-monitor-pipeline.ts) against a local HTTPS ingestion endpoint:
 * the app's spans (spans.ts) and its dependency spans arrive at Application Insights' track endpoint, authenticated
 * with an Entra bearer token from the credential (the component has local auth disabled), with one operation id
 * (the trace id), parent links and the app's ids as custom dimensions. Loaded on Node 20 here; Azure runs Node 22.
 */
import { createServer, type Server } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { trace } from '@opentelemetry/api';
import { startAzureMonitorPipeline } from '../../functions/azure-monitor-pipeline';
import { ensureLocalCertificate } from '../../src/local/certs';
import { recordDependencySpans } from '../../src/shared/dependency-spans';
import { inSpan } from '../../src/shared/spans';

let server: Server;
let pipeline: ReturnType<typeof startAzureMonitorPipeline> | undefined;
let endpoint: string;
const received: {
  authorization?: string;
  items: { name?: string; data?: { baseType?: string; baseData?: Record<string, unknown> }; tags?: Record<string, string> }[];
}[] = [];

beforeAll(async () => {
  const { cert, key } = await ensureLocalCertificate();
  server = createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const items = body
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .flatMap((line) => {
          const parsed = JSON.parse(line);
          return Array.isArray(parsed) ? parsed : [parsed];
        });
      if (req.url?.includes('track')) received.push({ authorization: req.headers.authorization, items });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `https://127.0.0.1:${(server.address() as { port: number }).port}/`;
});
afterAll(async () => {
  await pipeline?.shutdown();
  trace.disable();
  await new Promise((r) => server.close(r));
});

test('spans reach the ingestion endpoint with a bearer token, one operation id, parents and the ids as dimensions', async () => {
  pipeline = startAzureMonitorPipeline({
    connectionString: `InstrumentationKey=00000000-0000-4000-8000-000000000001;IngestionEndpoint=${endpoint}`,
    roleName: 'func-connections-test',
    credential: { getToken: async () => ({ token: 'entra-token-for-monitor', expiresOnTimestamp: Date.now() + 3600_000 }) },
  });
  recordDependencySpans();
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  await inSpan('step', { traceId, spanId: '00f067aa0ba902b7', sampled: true }, { 'run.id': 'run-1', 'tenant.id': 'tenant-a' }, async () => {
    // An outgoing call the app does not wrap: a dependency of the step.
    await fetch(endpoint).then((r) => r.text());
  });
  await pipeline.flush();

  const items = received.flatMap((r) => r.items);
  expect(received.every((r) => r.authorization === 'Bearer entra-token-for-monitor')).toBe(true);
  const step = items.find((i) => i.data?.baseData?.name === 'step');
  const dependency = items.find((i) => i.data?.baseType === 'RemoteDependencyData' && i.data?.baseData?.name !== 'step');
  expect(step?.tags).toMatchObject({
    'ai.operation.id': traceId,
    'ai.operation.parentId': '00f067aa0ba902b7',
    'ai.cloud.role': 'func-connections-test',
  });
  expect(step?.data?.baseData?.properties).toMatchObject({ 'connections.run.id': 'run-1', 'connections.tenant.id': 'tenant-a' });
  expect(dependency?.tags).toMatchObject({ 'ai.operation.id': traceId, 'ai.operation.parentId': step?.data?.baseData?.id });
  expect(String(dependency?.data?.baseData?.target)).toContain('127.0.0.1');
});
