/**
 * The Connections API, called with the signed-in person's bearer token. Every type below is inferred from the zod
 * schemas that validate the server's answers and generate GET /api/openapi.json (type-only imports, erased from the
 * bundle): the page and the API cannot drift, and nothing here restates a field by hand.
 */
import type { z } from 'zod';
import type { ConnectionView } from '../connections/connection';
import type { auditEntriesSchema, authorizeStartSchema, connectionUsageSchema, testOutcomeSchema } from '../connections/connection-answers';
import type { errorBodySchema } from '../http/api-contract';
import type { FormField, ProcessBody } from '../processes/process-definition';
import type { ProcessSummary } from '../processes/process-summary';
import type { processViewSchema, publishAnswerSchema } from '../processes/process-view';
import type { RunView } from '../runs/run';
import type { NotificationSettings } from '../notifications/notification-settings';
import type { RecordedSpan } from '../shared/recorded-spans';
import type { WaitingFormView } from '../runs/user-run-requests';

export type Connection = ConnectionView;
export type AuthorizeStart = z.output<typeof authorizeStartSchema>;
export type TestResult = z.output<typeof testOutcomeSchema>;
export type AuditEntry = z.output<typeof auditEntriesSchema>['entries'][number];
export type ConnectionUsage = z.output<typeof connectionUsageSchema>;
/** One place a process references a connection (`GET connections/{id}/usage`, or the `usage` of DELETE's 409). */
export type ConnectionReference = ConnectionUsage['references'][number];
export type Run = RunView;
export type RunStep = Run['steps'][number];
export type ExecutedAs = NonNullable<RunStep['executedAs']>;
export type { FormField };
/** A process definition as saved with PUT. */
export type ProcessDraft = ProcessBody;
export type ProcessStep = ProcessDraft['steps'][number];
export type ProcessRecord = z.output<typeof processViewSchema>;
export type PublishAnswer = z.output<typeof publishAnswerSchema>;
export type ErrorBody = z.output<typeof errorBodySchema>;
export type ItemSubject = Run['subject'];
/** A published user process as a user sees it before starting it: each step, what it touches and as whom. */
export type { ProcessSummary };
/** The form a run waits for (`GET runs/{id}/form`): the field definitions of the version the run executes. */
export type WaitingForm = WaitingFormView;

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
  usage = (id: string) => this.call<ConnectionUsage>('GET', `connections/${encodeURIComponent(id)}/usage`);
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
  publishProcess = (id: string) => this.call<PublishAnswer>('POST', `processes/${encodeURIComponent(id)}/publish`);
  runTrace = (id: string) =>
    this.call<{ runId: string; traceId?: string; recorded: boolean; spans: RecordedSpan[] }>('GET', `runs/${encodeURIComponent(id)}/trace`);
  notificationSettings = () => this.call<NotificationSettings>('GET', 'settings/notifications');
  saveNotificationSettings = (settings: NotificationSettings) => this.call<NotificationSettings>('PUT', 'settings/notifications', settings);
  startRun = (processId: string, subject: ItemSubject, inputs?: Record<string, unknown>) =>
    this.call<{ runId: string }>('POST', `processes/${encodeURIComponent(processId)}/runs`, { subject, ...(inputs ? { inputs } : {}) });
  listStartable = () => this.call<{ processes: ProcessSummary[] }>('GET', 'user-processes').then((r) => r.processes);
  listMyRuns = (limit = 25) => this.call<{ runs: Run[] }>('GET', `runs?initiatedBy=me&limit=${limit}`).then((r) => r.runs);
  waitingForm = (runId: string) => this.call<WaitingForm>('GET', `runs/${encodeURIComponent(runId)}/form`);
  resume = (runId: string) => this.call<{ runId: string }>('POST', `runs/${encodeURIComponent(runId)}/resume`);
  submitForm = (runId: string, stepId: string, values: Record<string, unknown>) =>
    this.call<unknown>('POST', `runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(stepId)}/submit`, { values });
}

/** One problem a 400/422 answer names: `path` like `steps[0].permissions.executeAs`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * The problems of a refused body, from the one error format (`{error: {code, message, details: [{path, message}]}}`).
 * Paths have one syntax on the server (`steps[0].name`); `normalizePath` also reads a dotted one (`steps.0.name`).
 */
export function fieldProblemsIn(body: unknown): FieldProblem[] {
  const details = (body as Partial<ErrorBody> | undefined)?.error?.details;
  return (details ?? []).map((p) => ({ path: normalizePath(p.path), message: p.message }));
}

export const normalizePath = (path: string): string => path.replace(/^body\.?/, '').replace(/\.(\d+)(?=\.|$)/g, '[$1]');

const VIA: Record<ConnectionReference['via'], string> = {
  executeAs: 'executes as it',
  runAs: 'runs as it',
  default: 'uses it as the default connection',
};

/** The references a usage answer or DELETE's 409 (`{error: {code: "conflict", usage}}`) lists; undefined when it lists none. */
export function referencesIn(body: unknown): ConnectionReference[] | undefined {
  const b = body as (Partial<ConnectionUsage> & Partial<ErrorBody>) | undefined;
  return b?.references ?? b?.error?.usage?.references;
}

/** A readable line per reference: “Contract intake (contract-intake), published version 2, step “stage” executes as it”. */
export function usageLines(
  references: ConnectionReference[],
  stepName: (processId: string, stepId: string) => string | undefined = () => undefined,
): string[] {
  return references.map((r) => {
    const name = r.processName && r.processName !== r.processId ? `${r.processName} (${r.processId})` : r.processId;
    const version = r.version === 'draft' ? 'draft' : r.version !== undefined ? `published version ${r.version}` : undefined;
    // A step as people know it (its name or action) when the page knows the process; its id otherwise.
    const where = r.stepId ? `step “${stepName(r.processId, r.stepId) ?? r.stepId}”` : 'the process';
    const how = VIA[r.via];
    return [name, version, `${where} ${how}`].filter(Boolean).join(', ');
  });
}
