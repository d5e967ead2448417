import { isRefusal, type Transition } from '../../../src/runs/core/commands';
import { interruptedMessage, planDelivery } from '../../../src/runs/core/delivery';
import {
  formSubmitted,
  newRun,
  noFormWaitingMessage,
  notWaitingForSessionMessage,
  queueingFailed,
  resumed,
} from '../../../src/runs/core/runs';
import {
  batchEnds,
  stepEnded,
  stepFailed,
  stepStarts,
  waitForForm,
  waitForUserSession,
  type StepFailure,
} from '../../../src/runs/core/steps';
import type { ExecutedAs, Run, StepStatus } from '../../../src/runs/run';
import { builtRunId, builtTenantId, runRecord } from '../../support/builders';

/**
 * The run core's transitions as tables: for each input, the next run and the commands an executor carries out.
 * Time is an input (frozen here), so every recorded time is checked exactly.
 */
const tenantId = builtTenantId;
const runId = builtRunId;
const now = new Date('2025-03-01T12:00:00.000Z');
const at = now.toISOString();
const connection: ExecutedAs = { kind: 'connection', connectionId: 'c1', username: 'svc@contoso.com', objectId: 'svc-oid' };
const user = { objectId: 'user-oid', username: 'ada@contoso.com' };
const retryPolicy = { firstDelayMs: 30_000, maxDelayMs: 15 * 60_000, maxTotalMs: 120 * 60_000 };
const ceiling = () => 1 - Number.EPSILON;

const run = (statuses: StepStatus[], change: Partial<Run> = {}): Run =>
  runRecord(statuses, { subject: { siteId: 's', listId: 'l', itemId: '1' }, ...change });
const kinds = (t: Transition) => t.commands.map((c) => c.kind);
const send = (stepIndex: number) => ({ kind: 'sendStep', step: { tenantId, runId, stepIndex } });

describe('newRun: the one run constructor', () => {
  const spec = {
    id: runId,
    tenantId,
    kind: 'system' as const,
    process: { id: 'nda', version: 2, steps: [{ id: 'a', action: 'sendMail' }, { id: 'b' }] },
    subject: { siteId: 's', listId: 'l', itemId: '1' },
    trace: { traceId: 't'.repeat(32), spanId: 's'.repeat(16) },
  };

  test('a run that starts has every step pending and sends its first step', () => {
    const t = newRun(spec, now);
    expect(t.run).toMatchObject({
      status: 'running',
      createdAt: at,
      processVersion: 2,
      traceId: spec.trace.traceId,
      traceSpanId: spec.trace.spanId,
    });
    expect(t.run.steps).toEqual([
      { id: 'a', action: 'sendMail', status: 'pending', attempts: 0 },
      { id: 'b', status: 'pending', attempts: 0 },
    ]);
    expect(t.commands).toEqual([send(0)]);
  });

  test.each(['not_started', 'failed'] as const)('a run stopped at creation (%s) says why, is finished and sends nothing', (status) => {
    const t = newRun({ ...spec, stopped: { status, reason: 'why' } }, now);
    expect(t.run).toMatchObject({ status, reason: 'why', finishedAt: at });
    expect(t.commands).toEqual([]);
  });

  test('a user run that could not be queued fails and drops its session', () => {
    const t = queueingFailed(newRun({ ...spec, kind: 'user', initiatedBy: user }, now).run, now);
    expect(t.run).toMatchObject({ status: 'failed', reason: 'The run could not be queued.', finishedAt: at });
    expect(kinds(t)).toEqual(['dropUserSession', 'writeRun']);
  });
});

describe('crash rules: a step is recorded running before its action and never repeated after a crash', () => {
  test('stepStarts writes the step running (attempt counted, executor recorded) before anything else', () => {
    const t = stepStarts(run(['succeeded', 'pending']), 1, connection, now);
    expect(t.commands).toEqual([{ kind: 'writeRun', run: t.run }]);
    expect(t.run.steps[1]).toEqual({
      id: 'step-1',
      action: 'sendMail',
      status: 'running',
      startedAt: at,
      attempts: 1,
      executedAs: connection,
    });
  });

  test('a delivery that finds its step running (the last one died during the action) fails it, and the run', () => {
    const crashed = stepStarts(run(['pending']), 0, connection, now).run;
    const plan = planDelivery({ tenantId, runId, stepIndex: 0 }, { deliveryCount: 2, maxDeliveryCount: 10, sessionId: runId }, crashed);
    expect(plan).toEqual({ kind: 'fail-run', reason: interruptedMessage });
    const t = stepEnded(crashed, 0, { status: 'failed', error: interruptedMessage }, now);
    expect(t.run.status).toBe('failed');
    expect(t.run.steps[0]).toMatchObject({ status: 'failed', error: interruptedMessage, attempts: 1 });
    expect(t.commands).toEqual([{ kind: 'writeRun', run: t.run }]);
  });

  test('a step retried later is no longer waited for once it runs again', () => {
    const waiting = run(['pending'], { waitingFor: { kind: 'retrying', stepIndex: 0, nextAttemptAt: at, attempt: 1, since: at } });
    expect(stepStarts(waiting, 0, connection, now).run.waitingFor).toBeUndefined();
  });
});

describe('stepEnded: a step outcome', () => {
  test.each([
    // statuses, index, outcome, run status after, then, commands
    [['running', 'pending'], 0, 'succeeded', 'running', 'next', []],
    [['running', 'pending'], 0, 'skipped', 'running', 'next', []],
    [['succeeded', 'running'], 1, 'succeeded', 'succeeded', 'stop', ['writeRun']],
    [['succeeded', 'running'], 1, 'skipped', 'succeeded', 'stop', ['writeRun']],
    [['running', 'pending'], 0, 'failed', 'failed', 'stop', ['writeRun']],
  ] as const)('%j step %i %s: run %s, batch %s, %j', (statuses, index, status, runStatus, then, commands) => {
    const t = stepEnded(run([...statuses]), index, { status, ...(status === 'failed' ? { error: 'boom' } : {}) }, now);
    expect(t.run.status).toBe(runStatus);
    expect(t.then).toBe(then);
    expect(kinds(t)).toEqual(commands);
    expect(t.run.steps[index]).toMatchObject({ status, finishedAt: at });
    if (status === 'failed') expect(t.run).toMatchObject({ reason: `Step "step-${index}" failed: boom`, finishedAt: at });
  });

  test('a user run that ends drops its user session', () => {
    const t = stepEnded(run(['running'], { kind: 'user', initiatedBy: user }), 0, { status: 'succeeded' }, now);
    expect(kinds(t)).toEqual(['writeRun', 'dropUserSession']);
  });
});

describe('batchEnds: where a batch of steps hands over', () => {
  test.each([
    [['succeeded', 'pending'], 0, true, ['writeRun', 'sendStep']],
    [['succeeded', 'pending'], 0, false, ['sendStep']],
    [['succeeded', 'succeeded'], 1, false, []],
  ] as const)('%j after step %i, unsaved %s: %j', (statuses, index, unsaved, commands) => {
    expect(batchEnds(run([...statuses]), index, unsaved).map((c) => c.kind)).toEqual(commands);
  });

  test('the next step is sent after the write', () => {
    expect(batchEnds(run(['succeeded', 'pending']), 0, true)[1]).toEqual(send(1));
  });
});

describe('stepFailed: failures of the token or the action', () => {
  const started = stepStarts(run(['pending', 'pending']), 0, connection, now).run;
  const context = { executedAs: connection, during: 'action' as const, retryPolicy, random: ceiling };

  test.each<[StepFailure, string[]]>([
    [{ kind: 'dead_grant', reason: 'revoked' }, ['refreshConnections', 'writeRun']],
    [{ kind: 'permanent', reason: 'no such list' }, ['writeRun']],
  ])('%j fails the step and the run: %j', (failure, commands) => {
    const t = stepFailed(started, 0, failure, now, context);
    expect(t.run.status).toBe('failed');
    expect(t.run.steps[0]).toMatchObject({ status: 'failed', error: failure.reason, executedAs: connection });
    expect(kinds(t)).toEqual(commands);
  });

  test('a transient failure schedules a retry before the row says so; the step is pending again', () => {
    const t = stepFailed(started, 0, { kind: 'transient', reason: 'Graph 503' }, now, context);
    const nextAttemptAt = new Date(now.getTime() + 30_000).toISOString();
    expect(t.then).toBe('stop');
    expect(t.run.status).toBe('running');
    expect(t.run.steps[0].status).toBe('pending');
    expect(t.run.waitingFor).toEqual({ kind: 'retrying', stepIndex: 0, nextAttemptAt, attempt: 1, since: at });
    expect(t.commands[0]).toMatchObject({
      kind: 'scheduleRetry',
      step: { tenantId, runId, stepIndex: 0, occasion: 'retry-1', notBefore: new Date(nextAttemptAt) },
      retry: { stepIndex: 0, attempt: 1, nextAttemptAt, reason: 'Graph 503' },
    });
    expect(t.commands[1]).toEqual({ kind: 'writeRun', run: t.run });
  });

  test("a service's Retry-After is honoured past the backoff", () => {
    const t = stepFailed(started, 0, { kind: 'transient', reason: 'throttled', nextRetryDelayMs: 600_000 }, now, context);
    expect(t.run.waitingFor).toMatchObject({ nextAttemptAt: new Date(now.getTime() + 600_000).toISOString() });
  });

  test('retries count on from the run’s earlier ones, and give up when the budget is spent', () => {
    const since = new Date(now.getTime() - 60 * 60_000).toISOString();
    const retrying = { ...started, waitingFor: { kind: 'retrying' as const, stepIndex: 0, nextAttemptAt: at, attempt: 3, since } };
    expect(stepFailed(retrying, 0, { kind: 'transient', reason: 'x' }, now, context).run.waitingFor).toMatchObject({ attempt: 4, since });
    const late = new Date(Date.parse(since) + retryPolicy.maxTotalMs);
    const t = stepFailed(retrying, 0, { kind: 'transient', reason: 'Graph 503' }, late, context);
    expect(t.run.status).toBe('failed');
    expect(t.run.waitingFor).toBeUndefined();
    expect(t.run.steps[0].error).toBe('Gave up after 4 tries over 120 min: Graph 503');
  });

  test('a token failure leaves the step as it was (it never ran)', () => {
    const t = stepFailed(run(['pending']), 0, { kind: 'transient', reason: 'x' }, now, { ...context, during: 'token' });
    expect(t.run.steps[0]).toEqual(run(['pending']).steps[0]);
  });
});

describe('waiting for the user', () => {
  const userRun = run(['succeeded', 'pending', 'pending'], { kind: 'user', initiatedBy: user });

  test('a form step makes the run wait; the token is dropped before the row says so', () => {
    const t = waitForForm(userRun, 1, user.objectId, now);
    expect(t.run).toMatchObject({ status: 'waiting', waitingFor: { kind: 'form', stepId: 'step-1', userObjectId: user.objectId } });
    expect(t.run.steps[1]).toMatchObject({ status: 'waiting', startedAt: at });
    expect(kinds(t)).toEqual(['dropUserSession', 'writeRun']);
  });

  test('an ended session makes the run wait for the user, saying why', () => {
    const t = waitForUserSession(userRun, 'session over');
    expect(t.run).toMatchObject({ status: 'waiting', waitingFor: { kind: 'user_session' }, reason: 'session over' });
    expect(kinds(t)).toEqual(['dropUserSession', 'writeRun']);
  });

  const waitingForm = waitForForm(userRun, 1, user.objectId, now).run;
  const values = { title: 'x' };

  test('a submitted form succeeds the step like any outcome; the run goes on with the new token', () => {
    const t = formSubmitted(waitingForm, { stepId: 'step-1', values, by: user }, now);
    if (isRefusal(t)) throw new Error(t.refused);
    expect(t.run.status).toBe('running');
    expect(t.run.waitingFor).toBeUndefined();
    expect(t.run.form).toEqual({ 'step-1': values });
    expect(t.run.steps[1]).toMatchObject({ status: 'succeeded', finishedAt: at, summary: `Submitted by ${user.username}` });
    expect(t.commands).toEqual([{ kind: 'storeUserSession' }, { kind: 'writeRun', run: t.run }, send(2)]);
  });

  test('a last form step ends the run and drops the session', () => {
    const lastWaiting = waitForForm(run(['succeeded', 'pending'], { kind: 'user', initiatedBy: user }), 1, user.objectId, now).run;
    const t = formSubmitted(lastWaiting, { stepId: 'step-1', values, by: user }, now);
    if (isRefusal(t)) throw new Error(t.refused);
    expect(t.run).toMatchObject({ status: 'succeeded', finishedAt: at });
    expect(kinds(t)).toEqual(['writeRun', 'dropUserSession']);
  });

  test.each([
    ['another step', waitingForm, 'step-2'],
    ['a run not waiting', userRun, 'step-1'],
  ])('a submission for %s is refused', (_what, r, stepId) => {
    expect(formSubmitted(r, { stepId, values, by: user }, now)).toEqual({ refused: noFormWaitingMessage });
  });

  test('a resumed run runs again from its first pending step, with a message named by the time', () => {
    const t = resumed(waitForUserSession(userRun, 'session over').run, now);
    if (isRefusal(t)) throw new Error(t.refused);
    expect(t.run.status).toBe('running');
    expect(t.run.reason).toBeUndefined();
    expect(t.run.waitingFor).toBeUndefined();
    expect(t.commands).toEqual([
      { kind: 'storeUserSession' },
      { kind: 'writeRun', run: t.run },
      { kind: 'sendStep', step: { tenantId, runId, stepIndex: 1, occasion: `resume-${now.getTime()}` } },
    ]);
  });

  test('only a run waiting for the session resumes', () => {
    expect(resumed(waitingForm, now)).toEqual({ refused: notWaitingForSessionMessage });
  });
});
