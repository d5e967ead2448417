import { matchEvent, maxChainDepth, type PublishedProcess } from '../../src/events/matching';
import type { ProductEvent } from '../../src/events/product-event';
import { conditionsHold } from '../../src/processes/conditions';
import type { Condition, ProcessDefinition } from '../../src/processes/process-definition';

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

describe('matchEvent through its index (event type, then a hash lookup of eq/in values)', () => {
  // What matching means, written the slow way: every enabled trigger of every system process, every condition.
  const reference = (e: ProductEvent, processes: PublishedProcess[]) =>
    processes.flatMap((process) => {
      const d = process.definition;
      if (d.kind !== 'system') return [];
      const matching = (d.triggers ?? []).filter((t) => !t.disabled && t.event === e.type && conditionsHold(t.conditions, { event: e }));
      return matching.length ? [{ id: d.id, allowSelfTrigger: matching.some((t) => t.allowSelfTrigger === true) }] : [];
    });
  const viaIndex = (e: ProductEvent, processes: PublishedProcess[]) =>
    matchEvent(e, processes).map((d) => ({ id: d.process.definition.id, allowSelfTrigger: d.start && d.allowSelfTrigger === true }));

  // Values an event may carry and conditions may name, chosen to cross loose equality ("3" = 3, "true" = true),
  // null, missing values, objects and arrays.
  const values: unknown[] = ['a', 'b', 'A', '3', 3, 3.5, '3.5', 0, '0', '', true, 'true', false, null, ['a'], { x: 'a' }];
  const paths = ['event.data.x', 'event.data.y', 'event.subject.listId', 'event.data.nested.z', 'event.data.missing'];
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const condition = (): Condition => {
    const op = pick(['eq', 'eq', 'in', 'ne', 'exists'] as const);
    const path = pick(paths);
    if (op === 'in') return { path, op, value: random() < 0.1 ? 'not-a-list' : [pick(values), pick(values)] };
    if (op === 'exists') return random() < 0.5 ? { path, op } : { path, op, value: pick([true, false]) };
    return { path, op, value: pick(values) };
  };
  const types = ['ItemCreated', 'ItemUpdated', 'StageChanged'] as const;
  const processes = Array.from({ length: 300 }, (_, i) =>
    published(`p${i}`, {
      kind: random() < 0.1 ? 'user' : 'system',
      triggers: Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
        event: pick(types),
        ...(random() < 0.15 ? { disabled: true } : {}),
        ...(random() < 0.2 ? { allowSelfTrigger: true } : {}),
        conditions: Array.from({ length: Math.floor(random() * 3) }, condition),
      })),
    }),
  );
  const events = Array.from({ length: 400 }, (_, i) =>
    event({
      id: `e${i}`,
      type: pick(types),
      subject: { siteId: 's', listId: String(pick(values)), itemId: '1' },
      data: Object.fromEntries(
        [
          ['x', pick(values)],
          ['y', pick(values)],
          ['nested', random() < 0.5 ? { z: pick(values) } : pick(values)],
        ].filter(() => random() < 0.8),
      ),
    }),
  );

  test('starts exactly what checking every trigger of every process starts, in the same order', () => {
    let matches = 0;
    for (const e of events) {
      const expected = reference(e, processes);
      matches += expected.length;
      expect(viaIndex(e, processes)).toEqual(expected);
    }
    expect(matches).toBeGreaterThan(events.length); // the generated cases do match, often
  });

  test('a list matched again, or a changed copy of it, answers from its own processes', () => {
    const e = event({ data: { contentType: 'Contract' } });
    const contracts = published('contracts', {
      triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.contentType', op: 'eq', value: 'Contract' }] }],
    });
    const list = [contracts];
    expect(started(matchEvent(e, list))).toEqual(['contracts']);
    expect(started(matchEvent(e, list))).toEqual(['contracts']);
    const republished = published(
      'contracts',
      {
        triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.contentType', op: 'eq', value: 'Invoice' }] }],
      },
      2,
    );
    expect(started(matchEvent(e, [republished]))).toEqual([]);
    expect(started(matchEvent(e, [published('other'), contracts]))).toEqual(['other', 'contracts']);
  });
});
