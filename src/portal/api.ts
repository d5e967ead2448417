/**
 * The Connections admin API, called with the administrator's bearer token. The response types are the
 * server's own (type-only imports, erased from the bundle), so the page and the API cannot drift.
 */
import type { ConnectionView } from '../connections/connection';
import type { TestOutcome } from '../connections/connection-service';
import type { AuthorizeStart } from '../connections/sign-in-flow';
import type { AuditEntry } from '../connections/connection-audit';
import type { ProcessBody } from '../processes/process-definition';
import type { StepRecord, toRunView } from '../runs/run';
import type { NotificationSettings } from '../notifications/notification-settings';

export type Connection = ConnectionView;
export type { AuthorizeStart };
export type TestResult = TestOutcome;
export type { AuditEntry };

/** Who executed a step: a connection (`connectionId`), or, in user processes, the user who runs it (contract "User processes"). */
export interface ExecutedAs {
  kind?: 'user' | 'connection';
  username: string;
  objectId?: string;
  connectionId?: string;
}
export type RunStep = Omit<StepRecord, 'status' | 'executedAs'> & {
  status: StepRecord['status'] | 'waiting';
  executedAs?: ExecutedAs;
};
/** A run as the API answers it, plus what user processes add (contract "User processes"): `waiting` and `waitingFor`. */
export type Run = Omit<ReturnType<typeof toRunView>, 'status' | 'steps'> & {
  status: ReturnType<typeof toRunView>['status'] | 'waiting';
  steps: RunStep[];
  /** A form step waiting for its person, the initiator's session that ran out, or a step retried later (the run stays `running`). */
  waitingFor?:
    | { stepId: string; userObjectId: string }
    | { reason: 'user_session' }
    | { reason: 'retrying'; stepIndex: number; nextAttemptAt: string; attempt: number; since: string };
  initiatedBy?: { username?: string; objectId?: string };
};

/** A form step's field (contract "User processes"). */
export interface FormField {
  name: string;
  label: string;
  type: string;
  required?: boolean;
  options?: string[];
}
export type ProcessStep = ProcessBody['steps'][number] & { fields?: FormField[] };
/** A process definition as saved with PUT (`fields` on form steps is part of the user-process contract). */
export type ProcessDraft = Omit<ProcessBody, 'steps'> & { steps: ProcessStep[] };
export interface ProcessRecord {
  id: string;
  draft: ProcessDraft;
  savedAt: string;
  savedBy: string;
  published?: { version: number; definition: ProcessDraft & { id: string }; publishedAt: string; publishedBy: string };
}
export interface ItemSubject {
  siteId: string;
  listId: string;
  itemId: string;
}

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
  remove = (id: string, options: { force?: boolean; revokeSessions?: boolean } = {}) => {
    const query = new URLSearchParams({
      ...(options.force ? { force: 'true' } : {}),
      ...(options.revokeSessions ? { revokeSessions: 'true' } : {}),
    });
    return this.call<void>('DELETE', `connections/${encodeURIComponent(id)}${query.size ? `?${query}` : ''}`);
  };
  usage = (id: string) => this.call<{ references?: ConnectionReference[] }>('GET', `connections/${encodeURIComponent(id)}/usage`);
  audit = (id: string, limit = 20) =>
    this.call<{ entries: AuditEntry[] }>('GET', `connections/${encodeURIComponent(id)}/audit?limit=${limit}`).then((r) => r.entries);
  listRuns = (filter: { processId?: string; limit?: number } = {}) =>
    this.call<{ runs: Run[] }>(
      'GET',
      `runs?${new URLSearchParams({ limit: String(filter.limit ?? 25), ...(filter.processId ? { processId: filter.processId } : {}) })}`,
    ).then((r) => r.runs);
  listProcesses = () => this.call<{ processes: ProcessRecord[] }>('GET', 'processes').then((r) => r.processes);
  getProcess = (id: string) => this.call<ProcessRecord>('GET', `processes/${encodeURIComponent(id)}`);
  saveProcess = (id: string, draft: ProcessDraft) => this.call<ProcessRecord>('PUT', `processes/${encodeURIComponent(id)}`, draft);
  publishProcess = (id: string) => this.call<{ version: number }>('POST', `processes/${encodeURIComponent(id)}/publish`);
  startRun = (processId: string, subject: ItemSubject) =>
    this.call<{ runId: string }>('POST', `processes/${encodeURIComponent(processId)}/runs`, { subject });
  notificationSettings = () => this.call<NotificationSettings>('GET', 'settings/notifications');
  saveNotificationSettings = (settings: NotificationSettings) => this.call<NotificationSettings>('PUT', 'settings/notifications', settings);
  submitForm = (runId: string, stepId: string, values: Record<string, unknown>) =>
    this.call<unknown>('POST', `runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(stepId)}/submit`, { values });
}

/** One problem a 400/422 answer names: `path` like `steps[0].permissions.executeAs`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * The problems of a refused body, read from the one error format (`{error: {code, message, details: [{path, message}]}}`)
 * or the older one (`{error: {message}, errors: [...]}`). Paths are normalized: `body.steps.0.name` (a 400 from the
 * schema) and `steps[0].name` (a 422 from validation) both become `steps[0].name`.
 */
export function fieldProblemsIn(body: unknown): FieldProblem[] {
  const b = body as { errors?: unknown; error?: { details?: unknown } } | undefined;
  const list = [b?.error?.details, b?.errors].find(Array.isArray) as unknown[] | undefined;
  if (!list) return [];
  return list
    .filter((p): p is FieldProblem => typeof (p as FieldProblem)?.message === 'string')
    .map((p) => ({ path: normalizePath(String(p.path ?? '')), message: p.message }));
}

export const normalizePath = (path: string): string => path.replace(/^body\.?/, '').replace(/\.(\d+)(?=\.|$)/g, '[$1]');

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
