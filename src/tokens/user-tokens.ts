import type { ConfidentialClientApplication } from '@azure/msal-node';
import type { Settings } from '../config/settings';
import { AppError } from '../shared/errors';
import type { UserAssertion } from '../shared/user';
import type { MsalClients } from './msal-clients';
import { classifyTokenError, TokenAcquisitionError } from './token-errors';
import type { AccessToken } from './token-types';

export type UserTokenSettings = Pick<
  Settings,
  'AUTH_CLIENT_ID' | 'AUTH_CLIENT_SECRET' | 'API_CLIENT_ID' | 'API_CLIENT_SECRET' | 'ADMIN_TOKEN_AUDIENCE' | 'USER_GRAPH_SCOPES'
>;

/**
 * The app registration that exchanges user tokens: Entra only exchanges an assertion whose audience is the client
 * asking (learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow: "the token must have been issued
 * to the app making the request"), which is the API registration. API_CLIENT_ID when set; otherwise the sign-in
 * app, which is right only when one registration serves both.
 */
export function onBehalfOfClient(settings: UserTokenSettings): { clientId: string; clientSecret: string } | { problem: string } {
  if (settings.API_CLIENT_ID && settings.API_CLIENT_SECRET)
    return { clientId: settings.API_CLIENT_ID, clientSecret: settings.API_CLIENT_SECRET };
  if (settings.ADMIN_TOKEN_AUDIENCE.includes(settings.AUTH_CLIENT_ID)) {
    return { clientId: settings.AUTH_CLIENT_ID, clientSecret: settings.AUTH_CLIENT_SECRET };
  }
  return {
    problem:
      'User processes are not configured: user tokens are issued for the API registration (ADMIN_TOKEN_AUDIENCE), and only that ' +
      'registration can exchange them for Microsoft Graph. Set API_CLIENT_ID and API_CLIENT_SECRET to it, or use one ' +
      'registration for sign-in and the API (AUTH_CLIENT_ID among ADMIN_TOKEN_AUDIENCE).',
  };
}

/** The reason a run waits for its user after Entra refused to exchange their token. */
export const userSessionEndedReason = (detail: string) =>
  `The user's sign-in session can no longer be used (${detail}); the user must continue the run with a fresh token.`;

/**
 * Graph tokens on behalf of a user (OAuth 2.0 On-Behalf-Of, MSAL's `acquireTokenOnBehalfOf`) for a user process's
 * unelevated steps. One confidential client per instance, so MSAL's in-memory cache (keyed by the assertion) serves
 * the steps of a run from one exchange; MSAL Node never refreshes these with a refresh token, so a new assertion is
 * needed once the user's token expires. Failures are TokenAcquisitionErrors classified as for connections:
 * `dead_grant` = the user's session is over (expired or refused assertion, missing consent: only the user can help),
 * `transient` (5xx, 429, network), `application_credentials` (`invalid_client`).
 */
export class UserTokens {
  private client?: { app: Promise<ConfidentialClientApplication>; createdAt: number };

  constructor(
    private readonly settings: UserTokenSettings,
    private readonly msal: Pick<MsalClients, 'create'>,
    private readonly now: () => number = Date.now,
    /** The client (and with it MSAL's cache of exchanged tokens, which only grows) is replaced this often. */
    private readonly clientLifetimeMs = 60 * 60 * 1000,
  ) {}

  /** Throws AppError `misconfigured` when no registration can perform the exchange (see onBehalfOfClient). */
  assertConfigured(): void {
    const client = onBehalfOfClient(this.settings);
    if ('problem' in client) throw new AppError('misconfigured', client.problem);
  }

  async graphToken(assertion: UserAssertion, options: { claims?: string } = {}): Promise<AccessToken> {
    if (assertion.expiresAt.getTime() <= this.now()) {
      throw new TokenAcquisitionError({ kind: 'dead_grant', reason: userSessionEndedReason('the token has expired') });
    }
    const app = await this.app();
    let result;
    try {
      result = await app.acquireTokenOnBehalfOf({
        oboAssertion: assertion.reveal(),
        scopes: this.settings.USER_GRAPH_SCOPES,
        ...(options.claims ? { claims: options.claims, skipCache: true } : {}),
      });
    } catch (e) {
      const failure = classifyTokenError(e);
      if (failure.kind !== 'dead_grant') throw new TokenAcquisitionError(failure);
      const code = (e as { errorCode?: string }).errorCode || 'invalid_grant';
      const aadsts = /AADSTS(\d+)/.exec(`${(e as Error)?.message ?? ''}`)?.[1];
      throw new TokenAcquisitionError({ kind: 'dead_grant', reason: userSessionEndedReason(aadsts ? `${code}, AADSTS${aadsts}` : code) });
    }
    if (!result?.accessToken) throw new TokenAcquisitionError({ kind: 'transient', reason: 'The sign-in service returned no token.' });
    return { token: result.accessToken, expiresOn: result.expiresOn ?? new Date(this.now() + 5 * 60_000) };
  }

  private app(): Promise<ConfidentialClientApplication> {
    if (!this.client || this.now() - this.client.createdAt > this.clientLifetimeMs) {
      const client = onBehalfOfClient(this.settings);
      if ('problem' in client) throw new AppError('misconfigured', client.problem);
      const app = this.msal.create(client);
      this.client = { app, createdAt: this.now() };
      app.catch(() => (this.client = undefined));
    }
    return this.client.app;
  }
}
