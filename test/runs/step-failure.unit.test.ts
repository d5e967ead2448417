import { ActionError } from '../../src/actions/action';
import { stepFailureOf } from '../../src/runs/step-failure';
import { TokenAcquisitionError } from '../../src/tokens/token-errors';

describe('failures while running a step', () => {
  const deadGrant = new TokenAcquisitionError({
    kind: 'dead_grant',
    reason: 'The connection needs re-authorization: the grant was revoked.',
  });
  const outage = new TokenAcquisitionError({ kind: 'transient', reason: 'Sign-in service temporarily unavailable (HTTP 503).' });
  const appCredentials = new TokenAcquisitionError({ kind: 'application_credentials', reason: 'The app could not sign in.' });

  test("a dead grant is final; outages and the app's own credentials are transient", () => {
    for (const during of ['token', 'action'] as const) {
      expect(stepFailureOf(deadGrant, during)).toEqual({ kind: 'dead_grant', reason: deadGrant.failure.reason });
      expect(stepFailureOf(outage, during)).toEqual({ kind: 'transient', reason: outage.failure.reason });
      expect(stepFailureOf(appCredentials, during)).toEqual({ kind: 'transient', reason: appCredentials.failure.reason });
    }
  });

  test('an unexpected error while getting the token is transient and says nothing of its own message', () => {
    expect(stepFailureOf(new Error('socket hang up at https://login.example/?code=secret'), 'token')).toEqual({
      kind: 'transient',
      reason: 'The token service failed.',
    });
  });

  test("an action's own errors keep their kind and message; anything else fails without echoing it", () => {
    expect(stepFailureOf(new ActionError('transient', 'Graph throttled the call.'), 'action')).toEqual({
      kind: 'transient',
      reason: 'Graph throttled the call.',
    });
    expect(stepFailureOf(new ActionError('permanent', 'The list does not exist.'), 'action')).toEqual({
      kind: 'permanent',
      reason: 'The list does not exist.',
    });
    expect(stepFailureOf(new TypeError('x is undefined; token=eyJ...'), 'action')).toEqual({
      kind: 'permanent',
      reason: 'The action failed unexpectedly.',
    });
  });

  test("a transient Graph failure keeps the service's Retry-After, so the scheduled retry honours it", () => {
    expect(
      stepFailureOf(new ActionError('transient', 'Graph throttled the call.', { status: 429, retryAfterMs: 30_000 }), 'action'),
    ).toEqual({
      kind: 'transient',
      reason: 'Graph throttled the call.',
      nextRetryDelayMs: 30_000,
    });
  });
});
