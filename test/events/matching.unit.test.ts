import { matchEvent, maxChainDepth, type PublishedProcess } from '../../src/events/matching';
import type { ProductEvent } from '../../src/events/product-event';
import type { ProcessDefinition } from '../../src/processes/process-definition';

const event = (over: Partial<ProductEvent> = {}): ProductEvent => ({
  id: 'e1',
  type: 'ItemCreated',
  tenantId: '00000000-0000-0000-0000-00000000000a',
  occurredAt: '2026-01-01T00:00:00Z',
  subject: { siteId: 'site-1', listId: 'list-1', itemId: '7' },
  data: { contentType: 'Contract' },
  ...over,
});

const step = { id: 's', type: 'action', action: 'updateFields', inputs: { fields: { Seen: true } } } as const;
const published = (id: string, over: Partial<ProcessDefinition> = {}, version = 1): PublishedProcess => ({
  version,
  definition: { id, name: id, kind: 'system', triggers: [{ event: 'ItemCreated' }], steps: [step], ...over },
});
const started = (decisions: ReturnType<typeof matchEvent>) => decisions.filter((d) => d.start).map((d) => d.process.definition.id);

describe('matchEvent', () => {
  test('starts each system process with an enabled trigger of the event type whose conditions hold', () => {
    const processes = [
      published('plain'),
      published('contracts', {
        triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.contentType', op: 'eq', value: 'Contract' }] }],
      }),
      published('invoices', {
        triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.contentType', op: 'eq', value: 'Invoice' }] }],
      }),
      published('other-type', { triggers: [{ event: 'StageChanged' }] }),
      published('disabled', { triggers: [{ event: 'ItemCreated', disabled: true }] }),
      published('no-triggers', { triggers: undefined }),
      published('user-process', { kind: 'user' }),
    ];
    const decisions = matchEvent(event(), processes);
    expect(decisions).toEqual([
      { process: processes[0], start: true },
      { process: processes[1], start: true },
    ]);
  });

  test('several matching triggers of one process still start one run', () => {
    const process = published('twice', {
      triggers: [{ event: 'ItemCreated' }, { event: 'ItemCreated', conditions: [{ path: 'event.data.contentType', op: 'exists' }] }],
    });
    expect(matchEvent(event(), [process])).toEqual([{ process, start: true }]);
  });

  test('a disabled trigger does not hide an enabled one of the same process', () => {
    const process = published('mixed', { triggers: [{ event: 'ItemCreated', disabled: true }, { event: 'ItemCreated' }] });
    expect(started(matchEvent(event(), [process]))).toEqual(['mixed']);
  });

  test("loop guard: an event caused by a process's own run does not start it, and says why; other processes still start", () => {
    const processes = [published('self'), published('other')];
    const decisions = matchEvent(event({ causedBy: { runId: 'run-1', processId: 'self', depth: 1 } }), processes);
    expect(decisions).toEqual([
      { process: processes[0], start: false, reason: expect.stringMatching(/caused by this process's own run run-1 \(loop guard\)/) },
      { process: processes[1], start: true },
    ]);
  });

  test(`loop guard: a chain ${maxChainDepth} runs deep starts nothing more; one less still starts`, () => {
    const processes = [published('a')];
    const deep = matchEvent(event({ causedBy: { runId: 'r', processId: 'b', depth: maxChainDepth } }), processes);
    expect(deep).toEqual([
      { process: processes[0], start: false, reason: expect.stringContaining(`reached ${maxChainDepth} (loop guard)`) },
    ]);
    const shallower = matchEvent(event({ causedBy: { runId: 'r', processId: 'b', depth: maxChainDepth - 1 } }), processes);
    expect(shallower).toEqual([{ process: processes[0], start: true }]);
  });

  test('a process that does not match is not reported, not even under the loop guard', () => {
    const processes = [published('self', { triggers: [{ event: 'StageChanged' }] })];
    expect(matchEvent(event({ causedBy: { runId: 'r', processId: 'self', depth: maxChainDepth } }), processes)).toEqual([]);
  });

  test('conditions see the event under "event"', () => {
    const bySubject = published('by-subject', {
      triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.subject.listId', op: 'in', value: ['list-1'] }] }],
    });
    expect(started(matchEvent(event(), [bySubject]))).toEqual(['by-subject']);
    expect(started(matchEvent(event({ subject: { siteId: 'site-1', listId: 'list-2', itemId: '7' } }), [bySubject]))).toEqual([]);
  });
});
