import { AppError } from '../shared/errors';
import { isActionError } from './action';
import { graphRequest } from './graph-client';

/**
 * Entra-side revocation of a connection's account: Graph `POST /me/revokeSignInSessions` with the connection's own
 * delegated token "invalidates all the refresh tokens issued to applications for a user (and session cookies in a
 * user's browser)"; it needs the delegated permission User.RevokeSessions.All (learn.microsoft.com/graph/api/
 * user-revokesigninsessions). Used by `DELETE connections/{id}?revokeSessions=true`; failures are AppErrors whose
 * message says what the admin can do instead.
 */
export async function revokeSignInSessions(graphBaseUrl: string, accessToken: string, idempotencyKey: string): Promise<void> {
  try {
    await graphRequest({ graphBaseUrl, accessToken, method: 'POST', path: '/me/revokeSignInSessions', idempotencyKey });
  } catch (e) {
    if (!isActionError(e)) throw e;
    if (e.status === 401 || e.status === 403) {
      throw new AppError(
        'conflict',
        `Microsoft Graph refused to revoke the account's sessions with the connection's token (HTTP ${e.status}${e.code ? `, ${e.code}` : ''}): ` +
          'the sign-in app needs the delegated permission User.RevokeSessions.All, consented in the tenant. Nothing was deleted. ' +
          'Delete without revokeSessions and revoke the sessions in Microsoft Entra (Users > the account > Revoke sessions).',
        { cause: e },
      );
    }
    throw new AppError(
      e.kind === 'transient' ? 'unavailable' : 'conflict',
      `Revoking the account's sessions failed (${e.status ? `HTTP ${e.status}` : 'no answer'}); nothing was deleted. Try again, or delete without revokeSessions and revoke the sessions in Microsoft Entra.`,
      { cause: e },
    );
  }
}
