import { queueOutcomeOf } from '../../functions/queue-outcome';
import { RunTooLargeError } from '../../src/runs/run-repository';
import { PoisonMessageError } from '../../src/runs/step-runner';
import { AppError } from '../../src/shared/errors';
import { TokenAcquisitionError } from '../../src/tokens/token-errors';

describe('what a queue delivery does with an error', () => {
  it('dead-letters what can never be processed, with the reason', () => {
    expect(queueOutcomeOf(new PoisonMessageError('run r1 does not exist'))).toEqual({
      action: 'dead-letter',
      reason: 'run r1 does not exist',
    });
    const tooLarge = new RunTooLargeError('r1', 'it is 70000 bytes');
    expect(queueOutcomeOf(tooLarge)).toEqual({ action: 'dead-letter', reason: tooLarge.message });
  });

  it('retries what a later delivery can fix, and says it was expected', () => {
    const outage = new TokenAcquisitionError({ kind: 'transient', reason: 'Sign-in service temporarily unavailable (HTTP 503).' });
    expect(queueOutcomeOf(outage)).toEqual({ action: 'retry', expected: true });
    expect(queueOutcomeOf(new AppError('misconfigured', 'the client secret expired'))).toEqual({ action: 'retry', expected: true });
  });

  it('retries anything else as unexpected: a defect must not silently drop a message', () => {
    expect(queueOutcomeOf(new Error('boom'))).toEqual({ action: 'retry', expected: false });
    expect(queueOutcomeOf('a string')).toEqual({ action: 'retry', expected: false });
    expect(queueOutcomeOf(new AppError('unavailable', 'not now', { retryable: false }))).toEqual({ action: 'retry', expected: false });
  });
});
