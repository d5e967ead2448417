import type { TokenCredential } from '@azure/identity';
import type { ConfidentialClientApplication } from '@azure/msal-node';
import { isUnresolvedKeyVaultReference, unresolvedReferenceMessage, type Settings } from '../config/settings';
import { AppError } from '../shared/errors';
import type { UserAssertion } from '../shared/user';
import { appCredential, type AppCredential } from './app-credentials';
import type { MsalClients } from './msal-clients';
import { classifyTokenError, TokenAcquisitionError, type TokenFailure } from './token-errors';
import type { AccessToken } from './token-types';

/** The credential modes default to `secret`, as in the settings. */
export type UserTokenSettings = Pick<
  Settings,
  'AUTH_CLIENT_ID' | 'AUTH_CLIENT_SECRET' | 'API_CLIENT_ID' | 'API_CLIENT_SECRET' | 'ADMIN_TOKEN_AUDIENCE' | 'USER_GRAPH_SCOPES'
> &
  Partial<Pick<Settings, 'AUTH_CLIENT_CREDENTIAL' | 'API_CLIENT_CREDENTIAL'>>;

/**
 * The app registration that exchanges user tokens: Entra only exchanges an assertion whose audience (`aud`) is the
 * client asking, i.e. the API registration the user's token was issued for (learn.microsoft.com/entra/identity-
 * platform/v2-oauth2-on-behalf-of-flow, the `assertion` parameter; [MS-OAPX] 4.7.5: the on-behalf-of request's
 * client_id "is the same as the resource given in the initial request"). API_CLIENT_ID when set; otherwise the
 * sign-in app, which is right only when one registration serves both.
 */
export function onBehalfOfClient(settings: UserTokenSettings, identity?: TokenCredential): AppCredential | { problem: string } {
  const notConfigured = (why: string) => ({ problem: `User processes are not configured: ${why}.` });
  if (settings.API_CLIENT_ID) {
    if (!settings.ADMIN_TOKEN_AUDIENCE.includes(settings.API_CLIENT_ID)) {
      // Its user tokens would name another audience, and Entra refuses to exchange those (AADSTS500131).
      return notConfigured('API_CLIENT_ID must be one of ADMIN_TOKEN_AUDIENCE, the API registration user tokens are issued for');
    }
    if (settings.API_CLIENT_CREDENTIAL !== 'managedIdentity' && isUnresolvedKeyVaultReference(settings.API_CLIENT_SECRET)) {
      return notConfigured(`API_CLIENT_SECRET ${unresolvedReferenceMessage}`);
    }
    const credential = appCredential(
      settings.API_CLIENT_ID,
      settings.API_CLIENT_CREDENTIAL ?? 'secret',
      settings.API_CLIENT_SECRET,
      identity,
      'API_CLIENT_SECRET',
    );
    if ('problem' in credential) {
      return notConfigured(
        `the API registration (API_CLIENT_ID) has no credential: ${credential.problem}. Set API_CLIENT_CREDENTIAL to managedIdentity ` +
          '(docs/deploy.md, "The API registration") or API_CLIENT_SECRET',
      );
    }
    return credential;
  }
  if (settings.ADMIN_TOKEN_AUDIENCE.includes(settings.AUTH_CLIENT_ID)) {
    const credential = appCredential(
      settings.AUTH_CLIENT_ID,
      settings.AUTH_CLIENT_CREDENTIAL ?? 'secret',
      settings.AUTH_CLIENT_SECRET,
      identity,
      'AUTH_CLIENT_SECRET',
    );
    return 'problem' in credential ? notConfigured(credential.problem) : credential;
  }
  return notConfigured(
    'user tokens are issued for the API registration (ADMIN_TOKEN_AUDIENCE), and only that registration can exchange them for ' +
      'Microsoft Graph. Set API_CLIENT_ID to it with its credential (API_CLIENT_CREDENTIAL managedIdentity, or API_CLIENT_SECRET), ' +
      'or use one registration for sign-in and the API (AUTH_CLIENT_ID among ADMIN_TOKEN_AUDIENCE)',
  );
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
    private readonly msal: Pick<MsalClients, 'create' | 'identity'>,
    private readonly now: () => number = Date.now,
    /** The client (and with it MSAL's cache of exchanged tokens, which only grows) is replaced this often. */
    private readonly clientLifetimeMs = 60 * 60 * 1000,
    /**
     * Entra refused the exchanging registration's own credential: every user step and route fails alike until the
     * operator fixes it, so it is raised (the application-credentials alert naming API_CLIENT_ID), not only retried.
     */
    private readonly credentialsRefused?: (failure: Extract<TokenFailure, { kind: 'application_credentials' }>) => Promise<void> | void,
  ) {}

  /** The registration that exchanges user tokens (API_CLIENT_ID, or the sign-in app when it is the API too). */
  get exchangingClientId(): string {
    return this.settings.API_CLIENT_ID ?? this.settings.AUTH_CLIENT_ID;
  }

  /** Throws AppError `misconfigured` when no registration can perform the exchange (see onBehalfOfClient). */
  assertConfigured(): void {
    const client = onBehalfOfClient(this.settings, this.msal.identity);
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
      if (failure.kind === 'application_credentials') {
        await Promise.resolve()
          .then(() => this.credentialsRefused?.(failure))
          .catch(() => undefined);
      }
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
      const client = onBehalfOfClient(this.settings, this.msal.identity);
      if ('problem' in client) throw new AppError('misconfigured', client.problem);
      const app = this.msal.create(client);
      this.client = { app, createdAt: this.now() };
      app.catch(() => (this.client = undefined));
    }
    return this.client.app;
  }
}
