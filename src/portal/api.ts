/**
 * The Connections admin API, called with the administrator's bearer token. The response types are the
 * server's own (type-only imports, erased from the bundle), so the page and the API cannot drift.
 */
import type { ConnectionView } from '../connections/connection';
import type { TestOutcome } from '../connections/connection-service';
import type { AuthorizeStart } from '../connections/sign-in-flow';
import type { StepRecord, toRunView } from '../runs/run';

export type Connection = ConnectionView;
export type { AuthorizeStart };
export type TestResult = TestOutcome;
export type RunStep = StepRecord;
export type Run = ReturnType<typeof toRunView>;

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export class ConnectionsApi {
  constructor(
    private readonly base: string,
    private readonly token: () => string | undefined,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = this.token();
    let res: Response;
    try {
      res = await fetch(`${this.base}/${path}`, {
        method,
        headers: {
          Accept: 'application/json',
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'The Connections API cannot be reached. Check your network and try again.', undefined);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const given = (json as { error?: { message?: unknown } } | undefined)?.error?.message;
      const message = typeof given === 'string' ? given : `The API answered HTTP ${res.status}.`;
      throw new ApiError(res.status, message, json);
    }
    return json as T;
  }

  listConnections = () => this.call<{ connections: Connection[] }>('GET', 'connections').then((r) => r.connections);
  authorize = (displayName?: string) => this.call<AuthorizeStart>('POST', 'connections/authorize', displayName ? { displayName } : {});
  rename = (id: string, displayName: string) => this.call<Connection>('PATCH', `connections/${encodeURIComponent(id)}`, { displayName });
  makeDefault = (id: string) => this.call<Connection>('PATCH', `connections/${encodeURIComponent(id)}`, { isDefault: true });
  reauthorize = (id: string) => this.call<AuthorizeStart>('POST', `connections/${encodeURIComponent(id)}/reauthorize`);
  test = (id: string) => this.call<TestResult>('POST', `connections/${encodeURIComponent(id)}/test`);
  remove = (id: string, force = false) => this.call<void>('DELETE', `connections/${encodeURIComponent(id)}${force ? '?force=true' : ''}`);
  usage = (id: string) => this.call<{ references?: ConnectionReference[] }>('GET', `connections/${encodeURIComponent(id)}/usage`);
  listRuns = (limit = 25) => this.call<{ runs: Run[] }>('GET', `runs?limit=${limit}`).then((r) => r.runs);
}

/** One place a process references a connection (`GET connections/{id}/usage`, or a 409 from DELETE). */
export interface ConnectionReference {
  processId: string;
  processName?: string;
  version?: 'draft' | number;
  stepId?: string;
  via?: 'executeAs' | 'runAs' | 'default' | string;
}

const VIA: Record<string, string> = {
  executeAs: 'executes as it',
  runAs: 'runs as it',
  default: 'uses it as the default connection',
};

/** Finds the reference list in a usage answer or a 409 body, read loosely: `{references}`, `{usage: {references}}`, `{error: {details}}`, or a plain list. */
export function referencesIn(body: unknown): ConnectionReference[] | undefined {
  type Loose = { usage?: unknown; references?: unknown; error?: { details?: unknown & { usage?: unknown }; usage?: unknown } } | undefined;
  const b = body as Loose;
  const details = b?.error?.details as Loose;
  for (const candidate of [body, b?.usage, b?.error?.details, details?.usage, b?.error?.usage]) {
    if (Array.isArray(candidate)) return candidate as ConnectionReference[];
    const references = (candidate as Loose)?.references;
    if (Array.isArray(references)) return references as ConnectionReference[];
  }
  return undefined;
}

/** A readable line per reference: “Contract intake (contract-intake), published version 2, step “stage” executes as it”. */
export function usageLines(references: ConnectionReference[]): string[] {
  return references.map((r) => {
    if (typeof r === 'string') return r;
    const name = r.processName && r.processName !== r.processId ? `${r.processName} (${r.processId})` : String(r.processId ?? 'A process');
    const version = r.version === 'draft' ? 'draft' : r.version !== undefined ? `published version ${r.version}` : undefined;
    const where = r.stepId ? `step “${r.stepId}”` : 'the process';
    const how = (r.via && VIA[r.via]) ?? 'references it';
    return [name, version, `${where} ${how}`].filter(Boolean).join(', ');
  });
}
