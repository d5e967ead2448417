import type { z } from 'zod';
import type { ProductEvent } from '../events/product-event';

/** How placeholder values are written into an input: see src/actions/templates.ts. Plain text when not named. */
export type PlaceholderContext = 'graphUrl' | 'html';

/** The inputs (by location, e.g. `path` or `body`) whose placeholders need a context other than plain text. */
export type PlaceholderContexts = Readonly<Record<string, PlaceholderContext>>;

/** The run whose step is executing: carried on what the step writes so its own changes can be recognized. */
export interface RunCause {
  runId: string;
  processId: string;
  /** How many runs deep the chain is (1 for a run started by a person's change). */
  depth: number;
}

/** The list item an action addresses: its event's subject. */
type ItemRef = ProductEvent['subject'];

/** A mail as sendMail sends it. */
export interface MailMessage {
  to: string[];
  subject: string;
  body: string;
  contentType: 'Text' | 'HTML';
}

/**
 * Microsoft Graph as one step's action sees it: bound once per step by the step runner (graph-session.ts) to the executing identity's
 * token, the step's idempotency key, run marker and trace. An action calls Graph through it and never holds the
 * token, so only the Graph client (graph-client.ts) ever sends one.
 */
export interface GraphSession {
  readonly graphBaseUrl: string;
  /** A request relative to the Graph base (never another host). */
  request(call: { method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'; path: string; body?: unknown }): Promise<unknown>;
  /** PATCHes fields of `item`, answering what Graph echoed for the fields that were set (else the value sent). */
  patchItemFields(item: ItemRef, fields: Record<string, string | number | boolean | null>): Promise<Record<string, unknown>>;
  /** Sends a mail from the executing account (`/me/sendMail`, kept in its sent items). */
  sendMail(message: MailMessage): Promise<void>;
}

/** What an action runs with: Graph bound to the executing identity (never its token), the event and its inputs. */
export interface ActionInvocation {
  graph: GraphSession;
  /** The event of a system run; in a user run, the item it was started on (`subject`) and its inputs (`data`). */
  event: Pick<ProductEvent, 'subject'>;
  /** Step inputs after renderInputs(). */
  inputs: Record<string, unknown>;
  signal?: AbortSignal;
}

export interface ActionResult {
  /** One line for the run audit. */
  summary: string;
  /** Kept small (see boundedOutput): run records live in Table properties of at most 64 KiB. */
  output?: unknown;
}

export interface ActionDefinition<I = unknown> {
  readonly name: string;
  readonly description: string;
  readonly inputs: z.ZodType<I>;
  /**
   * Inputs whose placeholder values land where they could act as code (a URL, HTML), given the step's unrendered
   * inputs; the step runner renders with it (renderActionInputs). Plain text everywhere when absent.
   */
  readonly placeholderContexts?: (inputs: unknown) => PlaceholderContexts;
  run(invocation: ActionInvocation): Promise<ActionResult>;
}

export type ActionErrorKind = 'permanent' | 'transient';

/**
 * Why a step failed. `permanent`: retrying cannot help (bad inputs, Graph 4xx) -> fail the step now.
 * `transient`: retry later (throttling, 5xx, network), after `retryAfterMs` when known.
 * The message is safe to record: it never contains the access token.
 */
export class ActionError extends Error {
  readonly kind: ActionErrorKind;
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** Graph's `error.code` when Graph answered with one. */
  readonly code?: string;

  constructor(kind: ActionErrorKind, message: string, details: { status?: number; retryAfterMs?: number; code?: string } = {}) {
    super(message);
    this.name = 'ActionError';
    this.kind = kind;
    if (details.status !== undefined) this.status = details.status;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
    if (details.code !== undefined) this.code = details.code;
  }

  /** Whether a later try may succeed (the failure vocabulary of AppError). */
  get retryable(): boolean {
    return this.kind === 'transient';
  }
}

export const isActionError = (e: unknown): e is ActionError => e instanceof ActionError;

/** Formats zod issues as `path: message`, never echoing input values (they may be personal data). */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.map(String).join('.') || '(inputs)'}: ${i.message}`).join('; ');
}

/** An action whose run() validates the (already rendered) inputs before executing. */
export function defineAction<S extends z.ZodType>(spec: {
  name: string;
  description: string;
  inputs: S;
  placeholderContexts?: (inputs: unknown) => PlaceholderContexts;
  execute(invocation: ActionInvocation, inputs: z.output<S>): Promise<ActionResult>;
}): ActionDefinition<z.output<S>> {
  return {
    name: spec.name,
    description: spec.description,
    inputs: spec.inputs as unknown as z.ZodType<z.output<S>>,
    ...(spec.placeholderContexts ? { placeholderContexts: spec.placeholderContexts } : {}),
    async run(invocation) {
      const parsed = spec.inputs.safeParse(invocation.inputs);
      if (!parsed.success) {
        throw new ActionError('permanent', `Invalid inputs for ${spec.name}: ${describeIssues(parsed.error.issues)}`);
      }
      if (invocation.signal?.aborted) throw new ActionError('transient', `${spec.name} was cancelled before it started`);
      return spec.execute(invocation, parsed.data);
    },
  };
}

/**
 * Loop guard marker (contract with the product). Every Graph call an action makes carries these headers
 * with the causing run's values, verbatim. A product that observes the change (and the local Graph
 * stand-in) is expected to copy them onto the resulting product event as
 * `causedBy: {runId, processId, depth}`; the engine then knows which run caused the event. Graph itself
 * does not persist request headers on the item, so the engine must also cap the chain depth.
 */
export const RUN_HEADER = 'x-connections-run';
export const PROCESS_HEADER = 'x-connections-process';
export const DEPTH_HEADER = 'x-connections-depth';

export function runMarkerHeaders(cause: RunCause): Record<string, string> {
  return { [RUN_HEADER]: cause.runId, [PROCESS_HEADER]: cause.processId, [DEPTH_HEADER]: String(cause.depth) };
}

/** The inverse of runMarkerHeaders for whoever observes a change; undefined unless all three are valid. */
export function parseRunMarker(get: (name: string) => string | undefined): RunCause | undefined {
  const runId = get(RUN_HEADER);
  const processId = get(PROCESS_HEADER);
  const depthText = get(DEPTH_HEADER);
  if (!runId || !processId || !depthText || !/^[1-9]\d{0,3}$/.test(depthText)) return undefined;
  if (runId.length > 64 || processId.length > 64) return undefined;
  return { runId, processId, depth: Number(depthText) };
}

const MAX_OUTPUT_CHARS = 16_000;

/** Keeps an action's output recordable: anything larger than ~16 KB of JSON is replaced by a note. */
export function boundedOutput(value: unknown, maxChars = MAX_OUTPUT_CHARS): unknown {
  if (value === undefined) return undefined;
  const text = JSON.stringify(value);
  if (text === undefined) return undefined;
  return text.length <= maxChars ? value : { truncated: true, jsonLength: text.length };
}
