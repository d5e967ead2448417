/** The Connections admin API, called with the administrator's bearer token. Types mirror the README contract. */

export interface Connection {
  id: string;
  displayName: string;
  account: { username: string; objectId: string; tenantId: string };
  status: 'active' | 'needs_reauth';
  statusReason?: string;
  statusChangedAt?: string;
  isDefault: boolean;
  createdAt: string;
  createdBy: string;
  lastUsedAt?: string;
  lastRefreshedAt?: string;
}

export interface AuthorizeStart {
  authorizeUrl: string;
  expiresAt: string;
}

export type TestResult = { ok: true; expiresOn: string } | { ok: false; status: 'needs_reauth' | 'unavailable'; reason: string };

export interface RunStep {
  id: string;
  action?: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  summary?: string;
  executedAs?: { connectionId: string; username: string };
  attempts?: number;
}

export interface Run {
  id: string;
  processId: string;
  processVersion: number;
  event: { id: string; type: string; occurredAt: string; subject?: Record<string, string> };
  status: 'running' | 'succeeded' | 'failed' | 'not_started';
  reason?: string;
  createdAt: string;
  finishedAt?: string;
  steps: RunStep[];
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly body: any,
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
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const message = typeof json?.error?.message === 'string' ? json.error.message : `The API answered HTTP ${res.status}.`;
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
  listRuns = (limit = 25) => this.call<{ runs: Run[] }>('GET', `runs?limit=${limit}`).then((r) => r.runs);
}

/**
 * What a 409 from DELETE says uses the connection, as readable lines. The shape is read loosely
 * (`error.details` as a list, or `{usage|processes|references: [...]}`), since only the lines are shown.
 */
export function usageLines(body: any): string[] {
  const details = body?.error?.details ?? body?.usage ?? body;
  const list: unknown[] = Array.isArray(details)
    ? details
    : (['usage', 'processes', 'references', 'items'].map((k) => details?.[k]).find(Array.isArray) ?? []);
  return list.map((item: any) => {
    if (typeof item === 'string') return item;
    const name = item?.processName ?? item?.name ?? item?.process?.name ?? item?.processId ?? item?.id ?? 'A process';
    const parts = [String(name)];
    const id = item?.processId ?? item?.id;
    if (id && id !== name) parts.push(`(${String(id)})`);
    const where = [item?.state ?? item?.version ?? (item?.published === true ? 'published' : item?.draft === true ? 'draft' : undefined)]
      .filter((x) => x !== undefined)
      .map(String);
    if (where.length) parts.push(`— ${where.join(', ')}`);
    const steps = item?.steps ?? item?.stepIds ?? (item?.stepId ? [item.stepId] : undefined);
    if (Array.isArray(steps) && steps.length) {
      parts.push(`— steps: ${steps.map((s: any) => (typeof s === 'string' ? s : String(s?.id ?? s?.stepId ?? '?'))).join(', ')}`);
    }
    const via = item?.reference ?? item?.via ?? item?.how;
    if (typeof via === 'string') parts.push(`(${via})`);
    return parts.join(' ');
  });
}
