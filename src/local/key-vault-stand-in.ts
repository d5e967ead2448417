/**
 * LOCAL ONLY — never used in Azure. A Key Vault stand-in for `npm start` and tests: a node:http server on
 * 127.0.0.1 that speaks enough of the Key Vault secrets REST protocol for the real @azure/keyvault-secrets
 * SecretClient (challenge auth, set/get/versions, soft delete, purge). It accepts any bearer token and keeps
 * values in plain JSON (mode 0600) when persistFile is given. Its request log holds method, path and status,
 * never bodies or headers.
 *
 * Differences from the service worth knowing: soft delete completes at once; faults are answered only to
 * authenticated requests (after the challenge), so tests count exactly the requests they mean.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { closeServer, HttpError, isJsonObject as isObject, listenOnLoopback, readBody } from './http-helpers';

export interface KeyVaultStandInOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** JSON file that keeps secrets across restarts (written with mode 0600). */
  persistFile?: string;
  /** Tenant named in the auth challenge. */
  tenantId?: string;
}

export interface StandInFault {
  /** Any method when omitted. */
  method?: 'GET' | 'PUT' | 'DELETE';
  status: number;
  retryAfterSeconds?: number;
  /** How many matching requests get this answer. */
  count: number;
}

export interface StandInRequest {
  method: string;
  path: string;
  status: number;
}

export interface KeyVaultStandIn {
  /** Vault URL for SecretClient, e.g. http://127.0.0.1:54321 */
  url: string;
  requests: StandInRequest[];
  /** Authenticated, non-faulted requests by kind: GET = read, PUT = write, DELETE = delete. */
  counts(): { reads: number; writes: number; deletes: number };
  resetCounts(): void;
  /** Replaces any pending faults; they are used in order, before normal handling. */
  injectFaults(faults: StandInFault[]): void;
  /** Version ids of a secret (active or soft-deleted), oldest first; [] when none. */
  secretVersions(name: string): string[];
  close(): Promise<void>;
}

interface StoredVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

interface StoredSecret {
  /** Name as first written; lookups are case-insensitive like the service. */
  name: string;
  versions: StoredVersion[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
}

interface PersistedState {
  format: 1;
  secrets: Record<string, StoredSecret>;
}

const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const VERSION = /^[0-9a-f]{32}$/i;
/**
 * Key Vault's documented limit for a secret value: 25 KB of octets (learn.microsoft.com/azure/key-vault/secrets/
 * about-secrets), taken as 25,600 bytes of UTF-8. The docs give no error code for an oversized value; this answers
 * 400 BadParameter, the service's code for an invalid request body.
 */
const MAX_VALUE_BYTES = 25 * 1024;
const MAX_TAGS = 15;
const RECOVERABLE_DAYS = 90;
const DEFAULT_TENANT = '72f988bf-0000-0000-0000-000000000000';

/** Key Vault's errors name a code: `{error: {code, message}}`. */
const vaultError = (status: number, code: string, message: string): HttpError => new HttpError(status, message, { code });

const notFound = (name: string) => vaultError(404, 'SecretNotFound', `A secret with (name/id) ${name} was not found in this key vault.`);

const now = () => Math.floor(Date.now() / 1000);

export async function startKeyVaultStandIn(options: KeyVaultStandInOptions = {}): Promise<KeyVaultStandIn> {
  const tenantId = options.tenantId ?? DEFAULT_TENANT;
  const persistFile = options.persistFile ? path.resolve(options.persistFile) : undefined;
  const secrets = new Map<string, StoredSecret>();
  if (persistFile) {
    for (const [key, secret] of Object.entries(await load(persistFile))) secrets.set(key, secret);
  }

  const requests: StandInRequest[] = [];
  let faults: StandInFault[] = [];
  let counts = { reads: 0, writes: 0, deletes: 0 };
  let url = '';

  // Serialized so an older snapshot never overwrites a newer one.
  let saving: Promise<void> = Promise.resolve();
  const persist = (): Promise<void> => {
    if (!persistFile) return Promise.resolve();
    const state: PersistedState = { format: 1, secrets: Object.fromEntries(secrets) };
    const data = JSON.stringify(state);
    saving = saving.catch(() => undefined).then(() => save(persistFile, data));
    return saving;
  };

  const secretId = (s: StoredSecret, v: StoredVersion) => `${url}/secrets/${s.name}/${v.version}`;
  const attributes = (v: StoredVersion) => ({
    enabled: v.enabled,
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    ...(v.exp !== undefined ? { exp: v.exp } : {}),
    created: v.created,
    updated: v.updated,
    recoveryLevel: 'Recoverable+Purgeable',
    recoverableDays: RECOVERABLE_DAYS,
  });
  const item = (s: StoredSecret, v: StoredVersion) => ({
    id: secretId(s, v),
    attributes: attributes(v),
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
  });
  const bundle = (s: StoredSecret, v: StoredVersion) => ({ value: v.value, ...item(s, v) });
  // The service leaves the value out of deleted-secret responses.
  const deletedBundle = (s: StoredSecret) => {
    const latest = s.versions[s.versions.length - 1]!;
    return {
      ...item(s, latest),
      recoveryId: `${url}/deletedsecrets/${s.name}`,
      deletedDate: s.deleted!.deletedDate,
      scheduledPurgeDate: s.deleted!.scheduledPurgeDate,
    };
  };

  const active = (name: string) => {
    const s = secrets.get(name.toLowerCase());
    if (!s || s.deleted) throw notFound(name);
    return s;
  };

  async function handle(method: string, parts: string[], body: string): Promise<{ status: number; json?: unknown }> {
    const [collection, rawName, sub, ...rest] = parts;
    if (rest.length > 0 || rawName === undefined) throw vaultError(404, 'NotFound', 'Unsupported path.');
    if (!SECRET_NAME.test(rawName)) {
      throw vaultError(400, 'BadParameter', 'The request URI contains an invalid name.');
    }
    const name = rawName;
    const key = name.toLowerCase();

    if (collection === 'secrets') {
      if (method === 'PUT' && sub === undefined) {
        const input = parseSetBody(body);
        const existing = secrets.get(key);
        if (existing?.deleted) {
          throw vaultError(
            409,
            'Conflict',
            `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
          );
        }
        const t = now();
        const secret = existing ?? { name, versions: [] };
        const version: StoredVersion = { version: randomBytes(16).toString('hex'), ...input, created: t, updated: t };
        secret.versions.push(version);
        secrets.set(key, secret);
        await persist();
        return { status: 200, json: bundle(secret, version) };
      }
      if (method === 'GET') {
        const secret = active(name);
        if (sub === undefined || sub === '') {
          return { status: 200, json: bundle(secret, secret.versions[secret.versions.length - 1]!) };
        }
        if (sub === 'versions') {
          return { status: 200, json: { value: secret.versions.map((v) => item(secret, v)), nextLink: null } };
        }
        const version = VERSION.test(sub) ? secret.versions.find((v) => v.version === sub.toLowerCase()) : undefined;
        if (!version) throw notFound(`${name}/${sub}`);
        return { status: 200, json: bundle(secret, version) };
      }
      if (method === 'DELETE' && sub === undefined) {
        const secret = active(name);
        const t = now();
        secret.deleted = { deletedDate: t, scheduledPurgeDate: t + RECOVERABLE_DAYS * 24 * 3600 };
        await persist();
        return { status: 200, json: deletedBundle(secret) };
      }
    }

    if (collection === 'deletedsecrets' && sub === undefined) {
      const secret = secrets.get(key);
      if (!secret?.deleted) {
        throw vaultError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
      }
      if (method === 'GET') return { status: 200, json: deletedBundle(secret) };
      if (method === 'DELETE') {
        secrets.delete(key);
        await persist();
        return { status: 204 };
      }
    }
    throw vaultError(405, 'MethodNotAllowed', 'Unsupported method for this path.');
  }

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const parsed = new URL(req.url ?? '/', 'http://stand-in');
    const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      requests.push({ method, path: parsed.pathname, status });
      const payload = json === undefined ? '' : JSON.stringify(json);
      res.writeHead(status, {
        ...headers,
        ...(payload ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
        'Content-Length': Buffer.byteLength(payload),
        'x-ms-request-id': randomBytes(8).toString('hex'),
      });
      res.end(payload);
    };
    const sendError = (e: HttpError) => send(e.status, { error: { code: e.code ?? 'InternalServerError', message: e.message } }, e.headers);

    readBody(req).then(
      (body) =>
        serve(body).catch((e: unknown) =>
          sendError(e instanceof HttpError ? e : vaultError(500, 'InternalServerError', 'Stand-in failure.')),
        ),
      () => res.destroy(),
    );

    async function serve(body: string): Promise<void> {
      const auth = req.headers.authorization;
      if (!auth || !/^Bearer \S+$/.test(auth)) {
        throw new HttpError(401, 'AKV10000: Request is missing a Bearer or PoP token.', {
          code: 'Unauthorized',
          headers: {
            'WWW-Authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`,
          },
        });
      }
      const fault = faults.find((f) => f.count > 0 && (f.method === undefined || f.method === method));
      if (fault) {
        fault.count -= 1;
        faults = faults.filter((f) => f.count > 0);
        throw new HttpError(fault.status, `Injected fault ${fault.status}.`, {
          code: faultCode(fault.status),
          headers: fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {},
        });
      }
      if (!parsed.searchParams.get('api-version')) throw vaultError(400, 'BadParameter', 'The api-version query parameter is required.');
      if (method === 'GET') counts.reads += 1;
      else if (method === 'PUT') counts.writes += 1;
      else if (method === 'DELETE') counts.deletes += 1;

      let parts: string[];
      try {
        // '' keeps the trailing slash of GET /secrets/{name}/ (latest version).
        parts = parsed.pathname.split('/').slice(1).map(decodeURIComponent);
      } catch {
        throw vaultError(400, 'BadParameter', 'Malformed path.');
      }
      const r = await handle(method, parts, body);
      send(r.status, r.json);
    }
  });

  url = `http://127.0.0.1:${await listenOnLoopback(server, options.port)}`;

  return {
    url,
    requests,
    counts: () => ({ ...counts }),
    resetCounts: () => {
      counts = { reads: 0, writes: 0, deletes: 0 };
    },
    injectFaults: (next) => {
      faults = next.map((f) => ({ ...f }));
    },
    secretVersions: (name) => secrets.get(name.toLowerCase())?.versions.map((v) => v.version) ?? [],
    close: async () => {
      await closeServer(server);
      await saving.catch(() => undefined);
    },
  };
}

function parseSetBody(body: string): Omit<StoredVersion, 'version' | 'created' | 'updated'> {
  let input: unknown;
  try {
    input = JSON.parse(body);
  } catch {
    throw vaultError(400, 'BadParameter', 'The request body is not valid JSON.');
  }
  if (!isObject(input) || typeof input.value !== 'string') {
    throw vaultError(400, 'BadParameter', 'Property value is required and must be a string.');
  }
  if (Buffer.byteLength(input.value) > MAX_VALUE_BYTES) {
    throw vaultError(400, 'BadParameter', `Secret value exceeds the maximum size of ${MAX_VALUE_BYTES} bytes.`);
  }
  const { contentType, tags, attributes } = input;
  if (contentType !== undefined && (typeof contentType !== 'string' || contentType.length > 255)) {
    throw vaultError(400, 'BadParameter', 'contentType must be a string of at most 255 characters.');
  }
  if (
    tags !== undefined &&
    (!isObject(tags) ||
      Object.keys(tags).length > MAX_TAGS ||
      Object.entries(tags).some(([k, v]) => k.length > 512 || typeof v !== 'string' || v.length > 256))
  ) {
    throw vaultError(400, 'BadParameter', `tags must be at most ${MAX_TAGS} string pairs.`);
  }
  const attrs = isObject(attributes) ? attributes : {};
  return {
    value: input.value,
    ...(contentType !== undefined ? { contentType: contentType as string } : {}),
    ...(tags !== undefined ? { tags: tags as Record<string, string> } : {}),
    enabled: attrs.enabled !== false,
    ...(typeof attrs.nbf === 'number' ? { nbf: attrs.nbf } : {}),
    ...(typeof attrs.exp === 'number' ? { exp: attrs.exp } : {}),
  };
}

function faultCode(status: number): string {
  switch (status) {
    case 429:
      return 'Throttled';
    case 500:
      return 'InternalServerError';
    case 503:
      return 'ServiceUnavailable';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    default:
      return 'InjectedFault';
  }
}

async function load(file: string): Promise<Record<string, StoredSecret>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  // Tighten a file someone created by hand or copied with looser permissions.
  await chmod(file, 0o600);
  const state = JSON.parse(text) as Partial<PersistedState>;
  if (state.format !== 1 || !isObject(state.secrets)) {
    throw new Error(`Key Vault stand-in: ${file} is not a stand-in state file`);
  }
  return state.secrets as Record<string, StoredSecret>;
}

async function save(file: string, data: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  // Write-then-rename so a crash mid-write never leaves a truncated vault.
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode: 0o600 });
  await chmod(tmp, 0o600); // mode above applies only when the file is new
  await rename(tmp, file);
}
