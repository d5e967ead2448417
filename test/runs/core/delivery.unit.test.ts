import type { ProcessDefinition } from '../../../src/processes/process-definition';
import { interruptedMessage, notExecutableMessage, planDelivery, planStep, type Delivery } from '../../../src/runs/core/delivery';
import { nextStepIndex, withOutcome } from '../../../src/runs/core/step-records';
import type { Run, StepStatus } from '../../../src/runs/run';
import { builtRunId, builtTenantId, productEvent, runRecord } from '../../support/builders';

/** The clock, frozen: every time a plan or record carries comes from here. */
const frozenNow = '2025-03-01T12:00:00.000Z';
const tenantId = builtTenantId;
const runId = builtRunId;
const event = productEvent({ data: { stage: 'Review' } });
const run = (statuses: StepStatus[], change: Partial<Run> = {}): Run => runRecord(statuses, { processVersion: 3, event, ...change });

const process: ProcessDefinition = {
  id: 'nda',
  name: 'NDA',
  kind: 'system',
  steps: [
    { id: 'step-0', type: 'action', action: 'sendMail' },
    { id: 'step-1', type: 'action', action: 'sendMail', conditions: [{ path: 'event.data.stage', op: 'eq', value: 'Signed' }] },
    { id: 'step-2', type: 'form' },
  ],
};

const message = (stepIndex: number) => ({ tenantId, runId, stepIndex });
const first: Delivery = { deliveryCount: 1, maxDeliveryCount: 10, sessionId: runId };

describe('planDelivery: what a step message means for its run', () => {
  test('a pending step in order is due', () => {
    const r = run(['succeeded', 'pending', 'pending']);
    expect(planDelivery(message(1), first, r)).toEqual({ kind: 'plan-step', step: r.steps[1] });
  });

  test("a message outside its run's session is poison, whatever the run says", () => {
    const plan = planDelivery(message(0), { ...first, sessionId: 'another-run' }, run(['pending']));
    expect(plan).toEqual({ kind: 'poison', reason: 'the message came in session "another-run", not its run\'s session' });
  });

  test('a delivery without a session (the local bus, direct calls) is planned by the run alone', () => {
    expect(planDelivery(message(0), { deliveryCount: 1, maxDeliveryCount: 10 }, run(['pending']))).toMatchObject({ kind: 'plan-step' });
  });

  test('a run that does not exist, or a step it does not have, is poison', () => {
    expect(planDelivery(message(0), first, undefined)).toEqual({ kind: 'poison', reason: `run ${runId} does not exist` });
    expect(planDelivery(message(3), first, run(['succeeded', 'succeeded', 'pending']))).toEqual({
      kind: 'poison',
      reason: `run ${runId} has no step 3`,
    });
  });

  test('a message for a later step while an earlier one is unfinished is not run early', () => {
    for (const earlier of ['pending', 'running'] as const) {
      const plan = planDelivery(message(2), first, run(['succeeded', earlier, 'pending']));
      expect(plan).toEqual({ kind: 'poison', reason: `step 2 of run ${runId} arrived before step 1 finished; it was not run early` });
    }
  });

  test('a run that has ended changes nothing, even for its unfinished steps', () => {
    for (const status of ['succeeded', 'failed', 'not_started'] as const) {
      expect(planDelivery(message(1), first, run(['succeeded', 'pending'], { status }))).toMatchObject({ kind: 'nothing-to-do' });
    }
  });

  test('a redelivered message of a finished step only makes sure the next one is enqueued', () => {
    expect(planDelivery(message(0), first, run(['succeeded', 'pending']))).toMatchObject({ kind: 'already-done' });
    expect(planDelivery(message(0), first, run(['skipped', 'pending']))).toMatchObject({ kind: 'already-done' });
  });

  test("a waiting run (a form, or its user's session) takes no step: the user's call enqueues what follows", () => {
    const waiting = run(['succeeded', 'waiting', 'pending'], {
      status: 'waiting',
      waitingFor: { kind: 'form', stepId: 'step-1', userObjectId: 'oid' },
    });
    expect(planDelivery(message(1), first, waiting)).toMatchObject({ kind: 'nothing-to-do' });
    expect(planDelivery(message(2), first, waiting)).toMatchObject({ kind: 'nothing-to-do' });
    expect(planDelivery(message(1), first, { ...waiting, status: 'running' })).toMatchObject({ kind: 'nothing-to-do' });
  });

  test('a failed step stays failed', () => {
    expect(planDelivery(message(0), first, run(['failed', 'pending']))).toMatchObject({ kind: 'nothing-to-do' });
  });

  test('a step left running (its delivery died during the action) fails instead of running twice', () => {
    expect(planDelivery(message(1), first, run(['succeeded', 'running']))).toEqual({ kind: 'fail-run', reason: interruptedMessage });
  });
});

describe('planStep: what a due step does', () => {
  test('an action step whose conditions hold runs', () => {
    const r = run(['pending', 'pending', 'pending']);
    expect(planStep(r, r.steps[0], process)).toEqual({ kind: 'run-step', definition: process.steps[0] });
  });

  test('an action step whose conditions do not hold is skipped', () => {
    const r = run(['succeeded', 'pending', 'pending']);
    expect(planStep(r, r.steps[1], process)).toEqual({ kind: 'skip', reason: 'Conditions did not hold.' });
    const signed = run(['succeeded', 'pending', 'pending'], { event: { ...event, data: { stage: 'Signed' } } });
    expect(planStep(signed, signed.steps[1], process)).toMatchObject({ kind: 'run-step' });
  });

  test('a form step of a user run waits for the user who started it', () => {
    const userProcess: ProcessDefinition = { ...process, kind: 'user' };
    const r = run(['succeeded', 'skipped', 'pending'], {
      kind: 'user',
      initiatedBy: { objectId: 'oid-user', username: 'user@contoso.com' },
    });
    expect(planStep(r, r.steps[2], userProcess)).toEqual({ kind: 'wait-for-form', definition: process.steps[2], userObjectId: 'oid-user' });
  });

  test("a user run's conditions read its subject and inputs as event.subject and event.data", () => {
    const userProcess: ProcessDefinition = { ...process, kind: 'user' };
    const started = { kind: 'user' as const, event: undefined, initiatedBy: { objectId: 'oid-user', username: 'user@contoso.com' } };
    const signed = run(['succeeded', 'pending', 'pending'], { ...started, inputs: { stage: 'Signed' } });
    expect(planStep(signed, signed.steps[1], userProcess)).toMatchObject({ kind: 'run-step' });
    const other = run(['succeeded', 'pending', 'pending'], { ...started, inputs: { stage: 'Draft' } });
    expect(planStep(other, other.steps[1], userProcess)).toMatchObject({ kind: 'skip' });
  });

  test('a form step fails the run of a system process', () => {
    const r = run(['succeeded', 'skipped', 'pending']);
    expect(planStep(r, r.steps[2], process)).toEqual({ kind: 'fail-run', reason: notExecutableMessage });
  });

  test('a step the process version does not have is poison', () => {
    const r = run(['pending']);
    const renamed = { ...r.steps[0], id: 'renamed' };
    expect(planStep(r, renamed, process)).toEqual({ kind: 'poison', reason: 'process nda v3 has no step renamed' });
  });
});

describe('recording an outcome (frozen clock)', () => {
  test('a succeeded middle step is recorded and the run goes on to the next step', () => {
    const next = withOutcome(
      run(['succeeded', 'running', 'pending']),
      1,
      { status: 'succeeded', summary: 'Sent.', executedAs: undefined },
      frozenNow,
    );
    expect(next.status).toBe('running');
    expect(next.finishedAt).toBeUndefined();
    expect(next.steps[1]).toEqual({
      id: 'step-1',
      action: 'sendMail',
      status: 'succeeded',
      summary: 'Sent.',
      finishedAt: frozenNow,
      attempts: 1,
    });
    expect(Object.hasOwn(next.steps[1], 'executedAs')).toBe(false);
    expect(nextStepIndex(next, 1)).toBe(2);
  });

  test('the last step ends the run, succeeded or skipped, with nothing more to enqueue', () => {
    for (const status of ['succeeded', 'skipped'] as const) {
      const next = withOutcome(run(['succeeded', 'pending']), 1, { status }, frozenNow);
      expect(next).toMatchObject({ status: 'succeeded', finishedAt: frozenNow });
      expect(nextStepIndex(next, 1)).toBeUndefined();
    }
  });

  test('a failed step fails the run with a reason that names the step, and nothing more is enqueued', () => {
    const executedAs = {
      kind: 'connection' as const,
      connectionId: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      username: 'approvals@contoso.com',
      objectId: 'oid-approvals',
    };
    const next = withOutcome(
      run(['running', 'pending']),
      0,
      { status: 'failed', error: 'The list does not exist.', executedAs },
      frozenNow,
    );
    expect(next).toMatchObject({ status: 'failed', reason: 'Step "step-0" failed: The list does not exist.', finishedAt: frozenNow });
    expect(next.steps[0]).toMatchObject({ status: 'failed', error: 'The list does not exist.', executedAs, finishedAt: frozenNow });
    expect(next.steps[1].status).toBe('pending');
    expect(nextStepIndex(next, 0)).toBeUndefined();
  });
});
