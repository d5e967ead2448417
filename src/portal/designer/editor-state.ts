import type { Connection, ConnectionsApi, ProcessDraft, ProcessRecord, ProcessStep } from '../api';
import { actionNamed } from '../action-catalogue';
import { FieldProblems } from '../field-problems';

/** What the designer needs from the page around it. */
export interface EditorContext {
  api: ConnectionsApi;
  handleAuthError(e: unknown): boolean;
  /** Back to the process list. */
  close(): void;
  /** Opens the Runs tab on this process's runs. */
  showRuns(processId: string): void;
}

/** The parts of the designer that can be drawn again on their own (never the one the person is typing in). */
export type Region = 'status' | 'settings' | 'steps' | 'panel' | 'run' | 'elevation' | 'toolbar';

/** What the parts of the designer are given: the state, and how to draw regions again after a change of structure. */
export interface DesignerUi {
  state: EditorState;
  /** Draws these regions again; focus stays on the control it was on when that control is drawn again. */
  refresh(...regions: Region[]): void;
  /** The draft changed without a change of structure: only "Unsaved changes" is updated. */
  changed(): void;
  /** Moves focus to the first element matching `selector` inside the designer. */
  focus(selector: string): void;
}

/**
 * What the designer of one process holds: the draft being edited, the last saved copy (for "Unsaved changes"), the
 * record as the API last answered it, the connections to choose from (and the last known names of deleted ones), the
 * selected step and tab, the problems of the last refusal and the local ones (a JSON box that does not parse).
 */
export class EditorState {
  readonly draft: ProcessDraft;
  private saved: string | undefined;
  connections: Connection[] = [];
  /** Last known names of connections the draft names but that no longer exist (from their audit trail). */
  readonly deletedNames = new Map<string, string>();
  selected = 0;
  stepTab: 'settings' | 'permissions' = 'settings';
  readonly problems = new FieldProblems();
  readonly localProblems = new Map<string, string>();
  busy = false;

  constructor(
    readonly id: string,
    public current: ProcessRecord | undefined,
    initial: ProcessDraft,
  ) {
    this.draft = bodyOf(initial);
    this.saved = current ? JSON.stringify(bodyOf(current.draft)) : undefined;
  }

  isDirty(): boolean {
    return JSON.stringify(this.draft) !== this.saved;
  }

  markSaved(record: ProcessRecord): void {
    this.current = record;
    this.saved = JSON.stringify(this.draft);
  }

  step(i = this.selected): ProcessStep | undefined {
    return this.draft.steps[i];
  }

  /** The connection's name for people: its display name, its last known one once deleted, never its id. */
  connectionName(connectionId: string): string {
    const c = this.connections.find((x) => x.id === connectionId);
    if (c) return c.displayName;
    const gone = this.deletedNames.get(connectionId);
    return gone ? `${gone} (deleted)` : 'a connection that no longer exists';
  }

  /** Ids the draft names that are not among the connections (deleted, or another tenant's). */
  unknownConnectionIds(): string[] {
    const named = [this.draft.runAs, ...this.draft.steps.map((s) => s.permissions?.executeAs)].filter((x): x is string => !!x);
    return [...new Set(named)].filter((id) => !this.connections.some((c) => c.id === id));
  }

  /** Steps whose fields a refusal named (0-based). */
  stepsWithProblems(): number[] {
    return this.draft.steps.map((_, i) => i).filter((i) => this.problems.under(path('steps', i)).length > 0);
  }
}

/** A path in the problem-path syntax: `path('steps', 1, 'inputs')` → `steps[1].inputs`. */
export const path = (...parts: (string | number)[]) => parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('');

/** How people know a step: its name, else its action's label, else "Form" or its id. */
export function stepLabel(step: { name?: string; id: string; type?: string; action?: string }): string {
  return step.name || actionNamed(step.action)?.label || (step.type === 'form' ? 'Form' : step.id);
}

/** The body PUT takes: a stored definition carries its `id`, which the body (a strict schema) must not. */
export function bodyOf(definition: ProcessDraft & { id?: string }): ProcessDraft {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { id, ...body } = structuredClone(definition);
  return body;
}
