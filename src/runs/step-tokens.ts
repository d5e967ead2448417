import { sleep } from '../shared/backoff';
import type { ActiveSpan } from '../shared/spans';
import type { ConnectionRef, TokenBroker } from '../tokens/token-broker';
import { TokenAcquisitionError } from '../tokens/token-errors';
import type { UserSessionStore } from '../tokens/user-session-store';
import { userSessionEndedReason, type UserTokens } from '../tokens/user-tokens';
import type { Delivery } from './core/delivery';
import type { Executor } from './executor';
import type { Run } from './run';
import { defaultTokenRetry, tokenRetryDelay, type TokenRetryPolicy } from './token-retry';

/** The token a step's action runs with, and how to get one that meets a Graph claims challenge. */
export interface StepTokens {
  accessToken: string;
  withClaims: (claims: string) => Promise<string>;
}

export interface StepTokenSources {
  broker: TokenBroker;
  /** On-Behalf-Of Graph tokens for the unelevated steps of user runs. */
  userTokens: Pick<UserTokens, 'graphToken'>;
  /** The user token each user run's steps are exchanged from. */
  sessions: Pick<UserSessionStore, 'get'>;
  tokenRetry?: Partial<TokenRetryPolicy>;
}

/**
 * The executor's access token and how to answer a claims challenge: a connection's from the broker, the user's
 * On-Behalf-Of from the token their latest call left for the run (none left: their session is over).
 */
export async function stepTokens(
  sources: StepTokenSources,
  run: Run,
  executor: Executor,
  delivery: Delivery,
  span: ActiveSpan,
): Promise<StepTokens> {
  const policy = { ...defaultTokenRetry, ...sources.tokenRetry };
  if (executor.kind === 'connection') {
    const ref: ConnectionRef = { tenantId: run.tenantId, id: executor.connection.id, objectId: executor.connection.account.objectId };
    const trace = span.ref;
    return {
      accessToken: await withRetries(policy, delivery, async () => (await sources.broker.getAccessToken(ref, { trace })).token),
      withClaims: async (claims) => (await sources.broker.getAccessToken(ref, { claims, trace })).token,
    };
  }
  const assertion = await sources.sessions.get(run.tenantId, run.id);
  if (!assertion)
    throw new TokenAcquisitionError({ kind: 'dead_grant', reason: userSessionEndedReason('no token of theirs is kept for this run') });
  return {
    accessToken: await withRetries(policy, delivery, async () => (await sources.userTokens.graphToken(assertion)).token),
    withClaims: async (claims) => (await sources.userTokens.graphToken(assertion, { claims })).token,
  };
}

/** A token, transient failures retried here briefly (token-retry.ts) before the step is scheduled for later. */
async function withRetries(policy: TokenRetryPolicy, delivery: Delivery, get: () => Promise<string>): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await get();
    } catch (e) {
      const delay = tokenRetryDelay(policy, delivery, attempt, e);
      if (delay === undefined) throw e;
      await sleep(delay);
    }
  }
}
