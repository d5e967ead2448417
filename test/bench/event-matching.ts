/**
 * event_matching: product events matched against 1,000 published system processes of one tenant, vs a plain
 * JSON.parse of the same events.
 *
 * The 1,000 processes are saved and published through ProcessService (validation included) and read back with
 * ProcessRepository.listPublished, as EventProcessor reads them. Matched side, per event, is what the
 * `events-process` function does in CPU before any I/O: JSON.parse of the message body, the product-event check
 * (parseProductEvent: a quick check, zod for anything it does not take), and matchEvent against the 1,000 processes (event type, then conditions, then the loop guard). Baseline:
 * JSON.parse of the same strings. Rounds alternate the two sides; the median round is reported.
 *
 * Also measured: the Tables read of the 1,000 published processes (ProcessRepository.listPublished without its
 * per-instance cache: what an instance pays once per cache period), and events/s through EventProcessor.handle end
 * to end with the cache as configured (Azurite I/O, a run row per match; step messages captured, not run).
 */
import { performance } from 'node:perf_hooks';
import { tableNames } from '../../src/config/settings';
import { matchEvent, type PublishedProcess } from '../../src/events/matching';
import { eventTypes, parseProductEvent, productEventSchema, type ProductEvent } from '../../src/events/product-event';
import { FABRIKAM_ADMIN, TENANT_B } from '../../src/local/identity-provider/directory';
import type { ProcessBody } from '../../src/processes/process-definition';
import { ProcessRepository } from '../../src/processes/process-repository';
import { EventProcessor } from '../../src/runs/event-processor';
import type { TestStack } from '../support/test-stack';
import { adminOf, CapturingSender, median, note, pool, round, savePublished, scaled, timed, type Figure } from './harness';

const PROCESSES = 1000;
const STAGES = ['Draft', 'Review', 'Legal', 'Signed'];

function processBody(i: number): ProcessBody {
  const triggers: NonNullable<ProcessBody['triggers']> = [
    { event: eventTypes[i % eventTypes.length], conditions: [{ path: 'event.data.contentType', op: 'eq', value: `Type${i % 50}` }] },
  ];
  if (i % 3 === 0) {
    triggers.push({
      event: eventTypes[(i + 1) % eventTypes.length],
      conditions: [
        { path: 'event.data.stage', op: 'in', value: ['Review', 'Legal'] },
        { path: 'event.subject.listId', op: 'eq', value: `list-${i % 20}` },
      ],
    });
  }
  if (i % 7 === 0) triggers.push({ event: 'StageChanged', disabled: true });
  if (i % 11 === 0)
    triggers.push({
      event: 'EntityUpdated',
      conditions: [
        { path: 'event.data.priority', op: 'exists' },
        { path: 'event.data.stage', op: 'ne', value: 'Draft' },
      ],
    });
  return {
    name: `Bench matching ${i}`,
    kind: 'system',
    triggers,
    steps: [{ id: 'stage', type: 'action', action: 'changeStage', inputs: { stage: 'Triage' } }],
  };
}

function eventJson(i: number): string {
  const event = {
    id: `evt-${i}`,
    type: eventTypes[(i * 7) % eventTypes.length],
    tenantId: TENANT_B.id,
    occurredAt: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
    subject: { siteId: 'fabrikam.sharepoint.com,site-1', listId: `list-${i % 40}`, itemId: String(1000 + i) },
    data: {
      contentType: `Type${(i * 13) % 100}`,
      stage: STAGES[i % STAGES.length],
      title: `Document ${i}`,
      ...(i % 5 === 0 ? { priority: 'high' } : {}),
    },
  };
  return JSON.stringify(event);
}

export async function eventMatching(stack: TestStack): Promise<Figure> {
  const ctx = stack.context;
  const admin = adminOf(FABRIKAM_ADMIN);
  note(`event_matching: publishing ${PROCESSES} system processes (untimed setup)`);
  await pool(PROCESSES, 8, async (i) => void (await savePublished(ctx, admin, `match-${String(i).padStart(4, '0')}`, processBody(i))));
  const repository = new ProcessRepository(stack.internals.tables, tableNames(ctx.settings).processes);
  const published: readonly PublishedProcess[] = await repository.listPublished(TENANT_B.id);
  if (published.length !== PROCESSES) throw new Error(`expected ${PROCESSES} published processes, listed ${published.length}`);

  const count = scaled(2_000, 200);
  const events = Array.from({ length: count }, (_, i) => eventJson(i));
  const rounds = 5;
  let sink = 0;
  const parseOnly = () => {
    const t0 = performance.now();
    for (const text of events) sink += (JSON.parse(text) as { id: string }).id.length;
    return performance.now() - t0;
  };
  const matched = () => {
    const t0 = performance.now();
    for (const text of events) {
      const parsed = parseProductEvent(JSON.parse(text));
      if (!parsed.success) throw new Error('a bench event was refused');
      sink += matchEvent(parsed.data, published).length;
    }
    return performance.now() - t0;
  };
  const parsedEvents: ProductEvent[] = events.map((text) => productEventSchema.parse(JSON.parse(text)));
  // The event check alone, on already parsed JSON: the quick check vs the zod schema it stands in for.
  const rawEvents: unknown[] = events.map((text) => JSON.parse(text));
  const checkOnly = (check: (input: unknown) => { success: boolean }) => () => {
    const t0 = performance.now();
    for (const input of rawEvents) sink += check(input).success ? 1 : 0;
    return performance.now() - t0;
  };
  const quickCheck = checkOnly(parseProductEvent);
  const zodCheck = checkOnly((input) => productEventSchema.safeParse(input));
  let matches = 0;
  const matchOnly = () => {
    matches = 0;
    const t0 = performance.now();
    for (const event of parsedEvents) matches += matchEvent(event, published).length;
    return performance.now() - t0;
  };

  note(`event_matching: ${rounds} rounds of ${count} events each side (after one warm-up round)`);
  parseOnly();
  matched();
  matchOnly();
  quickCheck();
  zodCheck();
  const quickMs: number[] = [];
  const zodMs: number[] = [];
  const parseMs: number[] = [];
  const matchedMs: number[] = [];
  const matchOnlyMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      parseMs.push(parseOnly());
      matchedMs.push(matched());
    } else {
      matchedMs.push(matched());
      parseMs.push(parseOnly());
    }
    matchOnlyMs.push(matchOnly());
    quickMs.push(quickCheck());
    zodMs.push(zodCheck());
  }
  if (sink === 0) throw new Error('nothing was computed');

  // What bounds event throughput in the product: EventProcessor reads the tenant's processes from Tables per event.
  note('event_matching: Tables read of the published processes, and EventProcessor.handle end to end');
  // The repository caches a tenant's list for a few seconds per instance; this one does not, to time the read itself.
  const uncached = new ProcessRepository(stack.internals.tables, tableNames(ctx.settings).processes, 0);
  await uncached.listPublished(TENANT_B.id); // warm
  const listMs: number[] = [];
  for (let r = 0; r < 5; r++) listMs.push((await timed(() => uncached.listPublished(TENANT_B.id))).ms);
  const processor = new EventProcessor({
    processes: repository,
    runs: ctx.runs,
    connections: stack.internals.connectionRepository,
    sender: new CapturingSender(),
  });
  const handle = async (i: number) => {
    const event = productEventSchema.parse(JSON.parse(eventJson(i)));
    await processor.handle({ ...event, id: `${event.id}-${process.hrtime.bigint()}` });
  };
  await handle(2_000_000); // warm (fills the instance's published-process cache, as the first event after a publish does)
  const handled = scaled(200, 20);
  const endToEnd = await timed(() => pool(handled, 8, (i) => handle(1_000_000 + i)));

  const perS = (ms: number) => round((count * 1000) / ms, 0);
  return {
    name: 'event_matching',
    processes: PROCESSES,
    events: count,
    runs: rounds,
    warmup_rounds: 1,
    matched_events_per_s: perS(median(matchedMs)),
    json_parse_events_per_s: perS(median(parseMs)),
    ratio: round(median(matchedMs) / median(parseMs), 1),
    match_only_events_per_s: perS(median(matchOnlyMs)),
    match_only_us_per_event: round((median(matchOnlyMs) * 1000) / count, 1),
    check_us_per_event: round((median(quickMs) * 1000) / count, 2),
    zod_check_us_per_event: round((median(zodMs) * 1000) / count, 2),
    matches_per_event: round(matches / count, 2),
    list_published_uncached_ms: round(median(listMs), 1),
    list_published_runs: listMs.length,
    list_published_cache_ms: 5000,
    event_processor_events_per_s: round((handled * 1000) / endToEnd.ms, 1),
    event_processor_events: handled,
    event_processor_concurrency: 8,
    note: 'matched = JSON.parse + parseProductEvent + matchEvent (indexed) over 1,000 processes (CPU only); check = parseProductEvent, zod_check = the zod schema alone; event_processor = EventProcessor.handle with Tables I/O',
  };
}
