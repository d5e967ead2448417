/**
 * Shared helpers of `npm run bench` (test/bench/run.ts). Benchmark code only: nothing here is used by the app.
 *
 * Conventions every figure follows:
 * - one JSON object per figure on stdout (`emit`), progress on stderr (`note`);
 * - `ratio` = time per unit of the measured side / time per unit of its baseline (1.0 = no overhead);
 * - warm-up work is done first and excluded; the counts of measured work and repetitions are printed.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CryptoProvider } from '@azure/msal-node';
import type { MessageSender, OutgoingMessage } from '../../src/adapters/message-queue';
import type { AppContext, AppInternals } from '../../src/app-context';
import type { Admin } from '../../src/shared/admin';
import { tableNames } from '../../src/config/settings';
import type { ProductEvent } from '../../src/events/product-event';
import type { Connection } from '../../src/connections/connection';
import { CONTOSO_ADMIN, TENANT_A, type LocalUser } from '../../src/local/identity-provider/directory';
import type { ProcessBody } from '../../src/processes/process-definition';
import { ProcessRepository } from '../../src/processes/process-repository';
import { EventProcessor } from '../../src/runs/event-processor';
import type { MsalClients } from '../../src/tokens/msal-clients';
import { signIn } from '../support/sign-in';

export type Figure = { name: string } & Record<string, unknown>;

export const emit = (figure: Figure): void => void process.stdout.write(`${JSON.stringify(figure)}\n`);
export const note = (message: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/**
 * The bench's stack keeps its bus in memory unless BENCH_DURABLE_BUS=1: the durable local bus writes every message to
 * Azurite, work that Service Bus (not this app) does in Azure, and step_overhead is about the engine's own cost.
 */
export const durableBus = process.env.BENCH_DURABLE_BUS === '1';

/** Scales the amount of work (BENCH_SCALE=0.2 for a quick look); the default 1 is what README reports. */
export const scale = (() => {
  const s = Number(process.env.BENCH_SCALE ?? '1');
  return Number.isFinite(s) && s > 0 ? s : 1;
})();
export const scaled = (n: number, min = 1): number => Math.max(min, Math.round(n * scale));

/** Runs `work(0..total-1)` with at most `concurrency` in flight (a fixed pool of workers, like a host's slots). */
export async function pool(total: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < total; i = next++) await work(i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
export const mb = (bytes: number): number => round(bytes / (1024 * 1024), 1);

export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await work();
  return { ms: performance.now() - t0, value };
}

/** Children of this process (Azurite, the identity provider) with their resident memory, from /proc (Linux). */
export function childProcesses(): { pid: number; name: string; rssBytes: number; peakRssBytes: number }[] {
  const out: { pid: number; name: string; rssBytes: number; peakRssBytes: number }[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      const name = /azurite/.test(cmd) ? 'azurite' : /identity-provider/.test(cmd) ? 'identity-provider' : cmd.slice(0, 60);
      out.push({ pid: Number(pid), name, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux builds, the kernel ABI). */
const userHz = 100;

/**
 * CPU time used so far (ms) by this process and by each child (Azurite, the identity provider), by name: the two
 * sides of a ratio can then say which process their time went to (a 2-core machine shares its cores between them).
 */
export function cpuTimes(): Record<string, number> {
  const own = process.cpuUsage();
  const out: Record<string, number> = { app: (own.user + own.system) / 1000 };
  for (const child of childProcesses()) {
    try {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[child.name] = (out[child.name] ?? 0) + ((Number(fields[11]) + Number(fields[12])) * 1000) / userHz;
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Samples this process's RSS (and its children's, less often) until stopped. */
export function sampleMemory(intervalMs = 20) {
  const startRss = process.memoryUsage.rss();
  let peak = startRss;
  let peakHeapUsed = process.memoryUsage().heapUsed;
  const children = new Map<string, number>();
  let ticks = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
    if (++ticks % 10 === 0) {
      peakHeapUsed = Math.max(peakHeapUsed, process.memoryUsage().heapUsed);
      for (const c of childProcesses()) children.set(c.name, Math.max(children.get(c.name) ?? 0, c.rssBytes));
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      return { startRss, peakRss: peak, peakHeapUsed, childrenPeakRss: Object.fromEntries(children), samples: ticks };
    },
  };
}

/** Signs `user` in with MSAL's authorization-code flow against the local provider and returns the account's MSAL cache. */
export async function signInCache(msal: MsalClients, user: LocalUser): Promise<string> {
  const client = await msal.create();
  const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
  const url = await client.getAuthCodeUrl({
    scopes: msal.scopes,
    redirectUri: msal.redirectUri,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
  });
  const code = new URL((await signIn(url, user.username)).redirectUrl).searchParams.get('code');
  if (!code) throw new Error(`sign-in of ${user.username} returned no code`);
  await client.acquireTokenByCode({ code, scopes: msal.scopes, redirectUri: msal.redirectUri, codeVerifier: verifier });
  return client.getTokenCache().serialize();
}

/** The same MSAL cache with its access tokens expiring `seconds` from now (negative: already expired). */
export function expiringIn(cache: string, seconds: number): string {
  const json = JSON.parse(cache) as { AccessToken: Record<string, { expires_on: string; extended_expires_on?: string }> };
  const at = String(Math.floor(Date.now() / 1000) + seconds);
  for (const t of Object.values(json.AccessToken)) Object.assign(t, { expires_on: at, extended_expires_on: at });
  return JSON.stringify(json);
}

/**
 * Stores a connection of `user` in tenant A as the sign-in callback does (active, its MSAL cache in the vault through
 * the running broker), with the cache's access tokens expiring `expiresInSeconds` from now (negative: already expired).
 */
export async function storeSignedInConnection(
  { internals }: { internals: AppInternals },
  user: LocalUser,
  displayName: string,
  cache: string,
  expiresInSeconds: number,
): Promise<Connection> {
  const now = new Date().toISOString();
  const connection: Connection = {
    id: randomUUID(),
    displayName,
    account: { username: user.username, objectId: user.objectId, tenantId: TENANT_A.id },
    status: 'active',
    statusChangedAt: now,
    isDefault: false,
    createdAt: now,
    createdBy: CONTOSO_ADMIN.username,
  };
  await internals.connectionRepository.save(connection);
  await internals.broker.storeSignIn(
    { tenantId: TENANT_A.id, id: connection.id, objectId: user.objectId },
    expiringIn(cache, expiresInSeconds),
  );
  return connection;
}

export const adminOf = (user: LocalUser): Admin => ({ tenantId: user.tenantId, objectId: user.objectId, username: user.username });

/** Saves and publishes a process through the same service the admin API uses (validation included). */
export async function savePublished(ctx: AppContext, admin: Admin, id: string, body: ProcessBody): Promise<number> {
  await ctx.processes.save(admin, id, body);
  return (await ctx.processes.publish(admin, id)).version;
}

/** Keeps what the event processor sends instead of delivering it, so steps can be released all at once. */
export class CapturingSender implements MessageSender {
  readonly messages: OutgoingMessage[] = [];
  async send(_queue: string, messages: OutgoingMessage[]): Promise<void> {
    this.messages.push(...messages);
  }
}

/**
 * Starts `count` runs the product's way (EventProcessor: match, create the run row), but holds their first
 * step messages back: the caller releases them onto the bus when its clock starts.
 */
export async function prepareRuns(
  { context: ctx, internals }: { context: AppContext; internals: AppInternals },
  tenantId: string,
  count: number,
  data: (i: number) => Record<string, unknown>,
): Promise<OutgoingMessage[]> {
  const sender = new CapturingSender();
  const events = new EventProcessor({
    processes: new ProcessRepository(internals.tables, tableNames(ctx.settings).processes),
    runs: ctx.runs,
    connections: internals.connectionRepository,
    sender,
  });
  const batch = randomUUID().slice(0, 8);
  await pool(count, 8, async (i) => {
    const event: ProductEvent = {
      id: `${batch}-${i}`,
      type: 'ItemCreated',
      tenantId,
      occurredAt: new Date().toISOString(),
      subject: { siteId: 'contoso.sharepoint.com,bench', listId: 'bench-list', itemId: `${batch}-${i}` },
      data: data(i),
    };
    const outcome = await events.handle(event);
    if (outcome.started.length !== 1)
      throw new Error(`event ${i} started ${outcome.started.length} runs (expected 1): ${JSON.stringify(outcome)}`);
  });
  if (sender.messages.length !== count) throw new Error(`expected ${count} first steps, captured ${sender.messages.length}`);
  return sender.messages;
}
