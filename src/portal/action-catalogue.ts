import type { EventType } from '../processes/event-types';
/**
 * The actions a step can run, as the designer edits them: each input as a field where its schema is simple (text,
 * a choice, a list of addresses), as JSON otherwise. The server's action schemas (src/actions/*) stay the authority:
 * whatever this page sends is validated there, and a refusal comes back as a 422 at the input's path.
 */
export type InputKind = 'text' | 'textarea' | 'choice' | 'list' | 'json';

export interface ActionInput {
  name: string;
  label: string;
  kind: InputKind;
  required?: boolean;
  choices?: readonly string[];
  hint?: string;
}

export interface CatalogueAction {
  name: string;
  label: string;
  description: string;
  inputs: readonly ActionInput[];
}

export const actionCatalogue: readonly CatalogueAction[] = [
  {
    name: 'changeStage',
    label: 'Change stage',
    description: "Sets the stage of the event's item.",
    inputs: [
      { name: 'stage', label: 'Stage', kind: 'text', required: true, hint: 'e.g. Legal review' },
      { name: 'field', label: 'Stage field (optional)', kind: 'text', hint: 'Stage when empty' },
    ],
  },
  {
    name: 'updateFields',
    label: 'Update fields',
    description: "Sets fields of the event's item.",
    inputs: [
      { name: 'fields', label: 'Fields (JSON object of name: value)', kind: 'json', required: true, hint: '{"Status": "Received"}' },
    ],
  },
  {
    name: 'sendMail',
    label: 'Send mail',
    description: 'Sends a message from the executing account.',
    inputs: [
      { name: 'to', label: 'To (addresses, comma-separated)', kind: 'list', required: true },
      { name: 'subject', label: 'Subject', kind: 'text', required: true },
      { name: 'body', label: 'Body', kind: 'textarea' },
      { name: 'contentType', label: 'Body format', kind: 'choice', choices: ['Text', 'HTML'] },
    ],
  },
  {
    name: 'graphRequest',
    label: 'Microsoft Graph request',
    description: 'Calls Microsoft Graph as the executing account.',
    inputs: [
      { name: 'method', label: 'Method', kind: 'choice', choices: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'], required: true },
      { name: 'path', label: 'Path (relative to Graph)', kind: 'text', required: true, hint: '/sites/{{event.subject.siteId}}' },
      { name: 'body', label: 'Body (JSON, optional)', kind: 'json' },
    ],
  },
];

export const actionNamed = (name: string | undefined): CatalogueAction | undefined => actionCatalogue.find((a) => a.name === name);

/** Default inputs of a new step: empty text, the first choice of required choices. */
export function defaultInputs(action: CatalogueAction): Record<string, unknown> {
  const inputs: Record<string, unknown> = {};
  for (const input of action.inputs) {
    if (input.kind === 'choice' && input.required) inputs[input.name] = input.choices![0];
    else if (input.kind === 'text' && input.required) inputs[input.name] = '';
    else if (input.kind === 'list' && input.required) inputs[input.name] = [];
    else if (input.kind === 'json' && input.required) inputs[input.name] = {};
  }
  return inputs;
}

/** The text an input's field shows for a stored value. */
export function inputText(input: ActionInput, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (input.kind === 'list') return Array.isArray(value) ? value.join(', ') : String(value);
  if (input.kind === 'json') return JSON.stringify(value, null, 2);
  return String(value);
}

/** The stored value of a field's text; JSON that does not parse is a problem named at the field, not sent. */
export function inputValue(input: ActionInput, text: string): { value?: unknown; problem?: string } {
  const trimmed = text.trim();
  if (input.kind === 'list') {
    const items = trimmed
      .split(/[,;\s]+/)
      .map((x) => x.trim())
      .filter(Boolean);
    return { value: items.length ? items : undefined };
  }
  if (input.kind === 'json') {
    if (!trimmed) return { value: undefined };
    try {
      return { value: JSON.parse(trimmed) };
    } catch {
      return { problem: 'is not valid JSON' };
    }
  }
  return { value: input.kind === 'choice' || trimmed ? text : undefined };
}

/**
 * The product's event types a trigger can name. The page takes only types from the server (test/architecture), so the
 * list is repeated here and the compiler checks it names every `EventType` and nothing else.
 */
export const triggerEvents = [
  'ItemCreated',
  'ItemUpdated',
  'EntityCreated',
  'EntityUpdated',
  'StageChanged',
] as const satisfies readonly EventType[];
type MissingEvents = Exclude<EventType, (typeof triggerEvents)[number]>;
export const everyEventListed: [MissingEvents] extends [never] ? true : MissingEvents = true;
