import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startChild } from './child-process';

export interface LocalAzurite {
  tablesEndpoint: string;
  /** Azurite's well-known development account: local only, refused by settings outside local mode. */
  connectionString: string;
  /** How the child finds a row by PartitionKey + RowKey: 'indexed' (as Azure does) or 'scan (why)' (childScript). */
  pointLookups: string;
  stop(): Promise<void>;
}

const devAccount = 'devstoreaccount1';
const devKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** Whether `pid` is a running Azurite (checked by its command line, so a reused pid of another program is not mistaken). */
function isAzurite(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('azurite');
  } catch {
    return true; // no /proc: trust the pid file
  }
}

/**
 * An Azurite of an earlier start that lost its parent (killed) saves its data and exits on its own (azurite-child.ts);
 * the new one must not open the same files before that.
 */
async function waitForPreviousAzurite(location: string, timeoutMs = 15_000): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(location, 'azurite.pid'), 'utf8'));
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  const deadline = Date.now() + timeoutMs;
  while (isAzurite(pid)) {
    if (Date.now() > deadline) throw new Error(`The Azurite of an earlier start (pid ${pid}) still runs on ${location}; stop it first.`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Runs Azurite (its entry script, the first argument) in the child and stops it the way Ctrl+C does when the process
 * that started it goes away, even killed with SIGKILL. Azurite keeps its tables in LokiJS, which saves to disk every
 * 5 s and on close (node_modules/azurite/dist/src/table/persistence/LokiTableMetadataStore.js, `autosaveInterval:
 * 5000`): an orphaned Azurite killed later would lose the last seconds of writes (messages the local bus had accepted
 * among them), and one left running would share its files with the next start's Azurite. While it runs it keeps
 * `azurite.pid` in its data folder, so that the next start waits for it. Plain JavaScript given to `node -e`, so it
 * runs the same from dist/ and from the TypeScript sources under jest.
 */
const childScript = `
const fs = require('node:fs');
const path = require('node:path');
const [entry, ...args] = process.argv.slice(1);
const at = args.indexOf('--location');
const pidFile = at >= 0 ? path.join(args[at + 1], 'azurite.pid') : undefined;
if (pidFile) {
  fs.mkdirSync(args[at + 1], { recursive: true });
  fs.writeFileSync(pidFile, String(process.pid));
  process.on('exit', () => fs.rmSync(pidFile, { force: true }));
}
// Azurite's own SIGTERM handler closes its servers and stores (LokiJS saves on close); exit once they had time to.
const exitSoon = () => setTimeout(() => process.exit(0), 5000).unref();
process.once('SIGTERM', exitSoon);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  // Nobody reads our output any more: a write to the broken pipe (Azurite logs its shutdown) would kill us unsaved.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  console.log = console.error = () => undefined;
  process.kill(process.pid, 'SIGTERM');
};
const stdin = fs.fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) process.stdin.on('end', stop).on('close', stop).on('error', stop).resume();
// Point lookups by PartitionKey + RowKey: Azurite asks LokiJS for findOne({PartitionKey, RowKey}), which narrows by
// the PartitionKey index and then compares RowKey on every row of the partition, so each read and write of a row
// costs time in proportion to its partition (half of Azurite's CPU in the step bench, one tenant's runs in one
// partition). In Azure a point query is the table's one clustered index lookup, "the most efficient lookup"
// (learn.microsoft.com/azure/storage/tables/table-storage-design-for-query). Asking for RowKey first uses the RowKey
// index instead; the answer is the same row (a conjunction in another order), only found without the scan.
let pointLookups = 'scan';
try {
  const loki = require(require.resolve('lokijs', { paths: [path.dirname(entry)] }));
  const findOne = loki.Collection.prototype.findOne;
  if (typeof findOne !== 'function') throw new Error('LokiJS has no Collection.findOne');
  loki.Collection.prototype.findOne = function (query) {
    // Only where RowKey is indexed (Azurite's entity tables): elsewhere the other order would scan the whole table.
    if (
      this.binaryIndices && this.binaryIndices.RowKey &&
      query && typeof query === 'object' && Object.keys(query).length === 2 && 'PartitionKey' in query && 'RowKey' in query
    )
      return findOne.call(this, { RowKey: query.RowKey, PartitionKey: query.PartitionKey });
    return findOne.call(this, query);
  };
  pointLookups = 'indexed';
} catch (e) {
  pointLookups = 'scan (' + JSON.stringify(String(e && e.message).slice(0, 200)) + ')'; // one line, whatever the message
}
console.log('Azurite point lookups: ' + pointLookups);
process.argv = [process.argv[0], entry, ...args];
require(entry);
`;

/**
 * Starts Azurite (blob, queue, table) from the npm package on free ports, in a child that stops gracefully when this
 * process goes away (`childScript`).
 */
export async function startAzurite(options: { location?: string } = {}): Promise<LocalAzurite> {
  const entry = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'azurite.js');
  const storage = options.location ? ['--location', options.location] : ['--inMemoryPersistence'];
  if (options.location) await waitForPreviousAzurite(options.location);
  const args = [
    '-e',
    childScript,
    entry,
    '--silent',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--blobPort',
    '0',
    '--queuePort',
    '0',
    '--tablePort',
    '0',
    ...storage,
  ];
  const running = await startChild(
    process.execPath,
    args,
    (line, seen) => {
      const m = /Azurite (Blob|Queue|Table) service is successfully listening at (\S+)|Azurite (point lookups): (.+)/.exec(line);
      if (m) seen.set(m[1] ?? 'PointLookups', m[2] ?? m[4]);
      return seen.size === 4 ? (Object.fromEntries(seen) as Record<'Blob' | 'Queue' | 'Table' | 'PointLookups', string>) : undefined;
    },
    { name: 'Azurite' },
  );
  const { Blob, Queue, Table, PointLookups } = running.ready;
  return {
    pointLookups: PointLookups,
    tablesEndpoint: `${Table}/${devAccount}`,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${devAccount};AccountKey=${devKey};` +
      `BlobEndpoint=${Blob}/${devAccount};QueueEndpoint=${Queue}/${devAccount};TableEndpoint=${Table}/${devAccount};`,
    stop: running.stop,
  };
}
