import { TableClient, TableServiceClient } from '@azure/data-tables';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { derive, parseState } from '../../src/connections/sign-in-state';
import { CONTOSO_ADMIN, LOCAL_API_CLIENT_SECRET, LOCAL_CLIENT_SECRETS, type LocalUser } from '../../src/local/identity-provider/directory';
import { mintLocalToken, type MintLocalTokenRequest } from '../../src/local/identity-provider/launch';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../src/local/stack';
import { apiContractCheck, type ContractCheck } from './api-contract-check';
import { fileSlug, resultsDir, runnerId } from './tally';

export interface RecordedResponse {
  status: number;
  headers: Headers;
  text: string;
  /**
   * The parsed body, unchecked: tests assert its shape with expect(). The one `any` left in test/support, on purpose —
   * typed views come from the helpers (connections.ts: ConnectionView, AuditEntry, usage; runs.ts: RunView).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface TestStack extends LocalStack {
  /** Every log line the functions wrote. */
  logs: string[];
  /** Every response body the API returned, to search for leaked secrets. */
  responses: string[];
  /** An admin access token from the local provider: v2.0 unless `version: 1`; `kind: 'id'` gives an ID token. */
  tokenFor(user?: LocalUser, extra?: Omit<MintLocalTokenRequest, 'username'>): Promise<string>;
  api(
    path: string,
    init?: { method?: string; token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<RecordedResponse>;
  /** GET an absolute URL on the app (e.g. the callback), recorded like api(). */
  get(url: string): Promise<RecordedResponse>;
  /**
   * Token material and sign-in secrets this stack handed out or stored, by value -> kind: admin tokens, authorization
   * codes and PKCE verifiers of the callbacks opened with get(), and (on stop) every token in the vault's caches.
   * stop() searches the logs and responses for each and writes the outcome under test-results/stacks/.
   */
  secretsSeen: Map<string, string>;
  /** Checks every answer of api() and get() against the served OpenAPI document (the contract test). */
  contract: ContractCheck;
}

/** What stop() found, per stack; global-teardown.ts merges these for the whole run. */
export interface StackLeakReport {
  runner: number;
  testFile: string;
  logLines: number;
  responses: number;
  secretsChecked: Record<string, number>;
  /** Table rows (of this stack's tables) and queue messages searched besides logs and answers. */
  rows?: number;
  messages?: number;
  /** Kind of secret and where it was found: never the value. */
  leaks: { kind: string; where: 'logs' | 'responses' | 'rows' | 'messages' }[];
  harvestError?: string;
  logs: string[];
}

/** A full local stack with tables of its own, so test files can share nothing and run in parallel. */
export async function startTestStack(options: LocalStackOptions = {}): Promise<TestStack> {
  const logs: string[] = [];
  const responses: string[] = [];
  const tablesPrefix = options.tablesPrefix ?? `t${randomBytes(4).toString('hex')}`;
  const stack = await startLocalStack({
    tablesPrefix,
    log: (level, name, message) => logs.push(`[${level}] ${name}: ${message}`),
    ...options,
    // Tests start many sign-ins a minute; the limit's own test sets it low.
    env: { AUTHORIZE_LIMIT_PER_MINUTE: '1000', ...options.env },
  });
  const record = async (res: Response): Promise<RecordedResponse> => {
    const text = await res.text();
    responses.push(text);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  const contract = apiContractCheck(stack.baseUrl);
  const secretsSeen = new Map<string, string>([...LOCAL_CLIENT_SECRETS, LOCAL_API_CLIENT_SECRET].map((s) => [s, 'client secret']));
  /** The PKCE verifier the app derives from a state (never stored): it must not show up anywhere either. */
  const noteState = async (state: string | null | undefined) => {
    const parsed = parseState(state ?? '');
    const key = parsed && (await stack.internals.signInStateKeys.byVersion(parsed.version));
    if (!parsed || !key) return;
    secretsSeen.set(derive(key, parsed.random).codeVerifier, 'PKCE verifier');
    secretsSeen.set(key.toString('base64url'), 'sign-in state key');
  };
  const adminTokens = new Map<string, string>();
  const tokenFor: TestStack['tokenFor'] = async (user = CONTOSO_ADMIN, extra = {}) => {
    const key = JSON.stringify([user.username, extra]);
    let token = adminTokens.get(key);
    if (!token) {
      token = (await mintLocalToken(stack.identityProvider.url, { username: user.username, ...extra })).access_token;
      adminTokens.set(key, token);
      secretsSeen.set(token, extra.kind === 'id' ? 'id token' : 'admin access token');
    }
    return token;
  };
  // The managed identity's tokens (client assertions in managedIdentity mode) are credentials: searched for like the rest.
  const identity = stack.overrides.managedIdentity;
  if (identity) {
    const getToken = identity.getToken.bind(identity);
    identity.getToken = async (scopes, options) => {
      const token = await getToken(scopes, options);
      if (token) secretsSeen.set(token.token, 'managed identity assertion');
      return token;
    };
  }
  // Every message the app sends, as sent: searched for secrets on stop, like logs and answers.
  const messages: string[] = [];
  const send = stack.bus.send.bind(stack.bus);
  stack.bus.send = async (queue, sent) => {
    for (const m of sent) messages.push(JSON.stringify(m.body));
    return send(queue, sent);
  };
  const testFile = (globalThis as { expect?: { getState?(): { testPath?: string } } }).expect?.getState?.().testPath ?? 'unknown';
  return {
    ...stack,
    logs,
    responses,
    secretsSeen,
    tokenFor,
    contract,
    async stop() {
      const report = await scanForLeaks(stack, testFile, logs, responses, secretsSeen, { tablesPrefix, messages }).catch(
        (e: unknown): StackLeakReport => ({
          ...emptyReport(testFile, logs, responses),
          harvestError: String((e as Error)?.message ?? e).slice(0, 200),
        }),
      );
      try {
        const dir = path.join(resultsDir(), 'stacks');
        mkdirSync(dir, { recursive: true });
        writeFileSync(
          path.join(dir, `${report.runner}-${fileSlug(testFile)}-${randomBytes(3).toString('hex')}.json`),
          JSON.stringify(report),
        );
      } catch {
        // Reporting must never break a test's teardown.
      }
      await stack.stop();
    },
    async api(path, init = {}) {
      const token = init.token === undefined ? await tokenFor() : init.token;
      const res = await fetch(`${stack.baseUrl}/api/${path.replace(/^\//, '')}`, {
        method: init.method ?? 'GET',
        headers: {
          ...init.headers,
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(init.body !== undefined || init.rawBody !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: init.rawBody ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined),
      });
      const recorded = await record(res);
      await contract.check(
        init.method ?? 'GET',
        `/api/${path.replace(/^\//, '')}`,
        res.status,
        res.headers.get('content-type'),
        recorded.json,
      );
      if (typeof recorded.json?.authorizeUrl === 'string')
        await noteState(URL.parse(recorded.json.authorizeUrl)?.searchParams.get('state'));
      return recorded;
    },
    async get(url) {
      const params = URL.parse(url)?.searchParams;
      const code = params?.get('code');
      if (code && code.length >= 16) secretsSeen.set(code, 'authorization code'); // not the made-up ones of attack tests
      await noteState(params?.get('state'));
      const res = await fetch(url, { redirect: 'manual' });
      const recorded = await record(res);
      const parsed = URL.parse(url);
      if (parsed && url.startsWith(stack.baseUrl))
        await contract.check('GET', parsed.pathname, res.status, res.headers.get('content-type'), recorded.json);
      return recorded;
    },
  };
}

const emptyReport = (testFile: string, logs: string[], responses: string[]): StackLeakReport => ({
  runner: runnerId(),
  testFile: path.relative(process.cwd(), testFile),
  logLines: logs.length,
  responses: responses.length,
  secretsChecked: {},
  leaks: [],
  logs,
});

/** Every row of this stack's tables (their names start with its prefix), as JSON lines. */
async function tableRows(stack: LocalStack, prefix: string): Promise<string[]> {
  const rows: string[] = [];
  const service = TableServiceClient.fromConnectionString(stack.azurite.connectionString, { allowInsecureConnection: true });
  for await (const table of service.listTables()) {
    if (!table.name?.startsWith(prefix)) continue;
    const client = TableClient.fromConnectionString(stack.azurite.connectionString, table.name, { allowInsecureConnection: true });
    for await (const row of client.listEntities()) rows.push(JSON.stringify(row));
  }
  return rows;
}

/**
 * Adds every token of every stored version of every secret the vault served, then searches logs, responses, every
 * Table row of the stack and every message the app sent.
 */
async function scanForLeaks(
  stack: LocalStack,
  testFile: string,
  logs: string[],
  responses: string[],
  secretsSeen: Map<string, string>,
  stored: { tablesPrefix: string; messages: string[] },
): Promise<StackLeakReport> {
  const names = new Set<string>();
  for (const r of stack.vault.requests) {
    const m = /^\/secrets\/([0-9A-Za-z-]{1,127})(\/|$)/.exec(r.path);
    if (m) names.add(m[1]);
  }
  for (const name of names) {
    for (const version of stack.vault.secretVersions(name)) {
      const res = await fetch(`${stack.vault.url}/secrets/${name}/${version}?api-version=7.5`, {
        headers: { Authorization: 'Bearer local' },
      });
      if (!res.ok) continue; // soft-deleted meanwhile
      const { value } = (await res.json()) as { value?: string };
      let cache: Record<string, Record<string, { secret?: string }>>;
      try {
        cache = JSON.parse(value ?? '');
      } catch {
        continue;
      }
      for (const [section, kind] of [
        ['AccessToken', 'access token'],
        ['RefreshToken', 'refresh token'],
        ['IdToken', 'id token'],
      ] as const) {
        for (const entry of Object.values(cache?.[section] ?? {})) if (entry?.secret) secretsSeen.set(entry.secret, kind);
      }
    }
  }
  const report = emptyReport(testFile, logs, responses);
  const rows = await tableRows(stack, stored.tablesPrefix);
  report.rows = rows.length;
  report.messages = stored.messages.length;
  const haystacks = {
    logs: logs.join('\n'),
    responses: responses.join('\n'),
    rows: rows.join('\n'),
    messages: stored.messages.join('\n'),
  } as const;
  for (const [value, kind] of secretsSeen) {
    report.secretsChecked[kind] = (report.secretsChecked[kind] ?? 0) + 1;
    for (const where of ['logs', 'responses', 'rows', 'messages'] as const) {
      if (value.length >= 8 && haystacks[where].includes(value)) report.leaks.push({ kind, where });
    }
  }
  return report;
}

/**
 * The one shape of "a stack per describe": the describe that calls it starts a stack of its own before its tests and
 * stops it after, so each describe (and each test alone, `node scripts/run-each-test.mjs`) sets up what it needs.
 * `started` runs once the stack is up (observers, state the describe keeps). The holder's `stack` is the running one.
 */
export function stackPerDescribe(options: LocalStackOptions = {}, started?: (stack: TestStack) => void): { stack: TestStack } {
  const holder = {} as { stack: TestStack };
  beforeAll(async () => {
    holder.stack = await startTestStack(options);
    started?.(holder.stack);
  });
  afterAll(async () => {
    await holder.stack?.stop();
  });
  return holder;
}
