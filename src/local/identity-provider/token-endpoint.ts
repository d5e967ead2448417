/**
 * The local identity provider's token endpoint, shaped like Entra's (LOCAL ONLY). oidc-provider issues the tokens;
 * this adds what Entra does around that: injected faults, `claims` (client capabilities, CAE claims challenges) and
 * AADSTS90100 for invalid ones, AADSTS50173 after revokeSignInSessions, Entra's invalid_client answers, and the
 * response's `client_info` and Entra-shaped `scope`.
 */
import { IncomingMessage } from 'node:http';
import { readBodyBytes } from '../http-helpers';
import { findUserByObjectId, LOCAL_CLIENT_ID, LOCAL_PORTAL_CLIENT_ID } from './directory';
import { clientInfo, entraResponseScope } from './entra-claims';
import { entraTokenError, requestedClaims, type EntraTokenError } from './entra-token-errors';
import type { KoaContext, Provider } from './oidc-provider-types';
import { JWT_BEARER_GRANT, onBehalfOf, type OnBehalfOfIssuer } from './on-behalf-of';
import type { TokenEndpointFaults } from './token-endpoint-faults';
import { countTokenRequest, type TokenStats } from './token-stats';

/** Token request bodies are small forms; Entra too refuses large ones. */
const MAX_TOKEN_REQUEST_BYTES = 64 * 1024;

/** A token request whose body was read before oidc-provider saw it (it ignores `claims` at the token endpoint). */
interface TokenRequestMessage extends IncomingMessage {
  tokenParams?: URLSearchParams;
  /** Entra's answer to a refused client assertion (federated-credentials.ts), given after the injected faults. */
  clientAuthRefusal?: EntraTokenError;
}

/**
 * Reads a token request's form body and hands oidc-provider the same request, with the parameters kept on it.
 * `authenticate` may rewrite the parameters (an accepted client assertion becomes the client's secret, which
 * oidc-provider knows) or refuse the client.
 */
export async function replayTokenRequest(
  req: IncomingMessage,
  authenticate?: (params: URLSearchParams) => Promise<EntraTokenError | undefined>,
): Promise<IncomingMessage> {
  const read = await readBodyBytes(req, MAX_TOKEN_REQUEST_BYTES);
  const params = new URLSearchParams(read.toString('utf8'));
  const before = params.toString();
  const refusal = authenticate ? await authenticate(params) : undefined;
  // oidc-provider reads the body itself: a rewritten form goes in its place, with its own length.
  const rewritten = !refusal && params.toString() !== before;
  const body = rewritten ? Buffer.from(params.toString(), 'utf8') : read;
  const replay: TokenRequestMessage = new IncomingMessage(req.socket);
  replay.method = req.method;
  replay.url = req.url;
  replay.httpVersionMajor = req.httpVersionMajor;
  replay.httpVersionMinor = req.httpVersionMinor;
  replay.httpVersion = req.httpVersion;
  replay.headers = rewritten ? { ...req.headers, 'content-length': String(body.length) } : req.headers;
  replay.rawHeaders = req.rawHeaders;
  (replay as IncomingMessage & { originalUrl?: string }).originalUrl = (req as IncomingMessage & { originalUrl?: string }).originalUrl;
  replay.tokenParams = params;
  if (refusal) replay.clientAuthRefusal = refusal;
  // Otherwise the finished stream counts as aborted and Node destroys the shared socket with it.
  replay.complete = true;
  replay.push(body);
  replay.push(null);
  return replay;
}

const tokenParams = (ctx: KoaContext | undefined): URLSearchParams | undefined =>
  (ctx?.req as TokenRequestMessage | undefined)?.tokenParams;

/** Whether the token request declared the CP1 client capability (MSAL's `clientCapabilities`, sent in `claims`). */
export function clientDeclaredCp1(ctx: KoaContext | undefined): boolean {
  const claims = requestedClaims(tokenParams(ctx)?.get('claims'));
  return claims !== undefined && claims !== 'invalid' && claims.cp1;
}

export interface TokenEndpointState {
  faults: TokenEndpointFaults;
  stats: TokenStats;
  /** Per account (object id): refresh tokens issued before this time (epoch seconds) are refused, as after Entra's revokeSignInSessions. */
  tokensValidFrom: Map<string, number>;
  /** What the On-Behalf-Of grant (on-behalf-of.ts) signs its Graph tokens with. */
  onBehalfOf: OnBehalfOfIssuer;
}

const usernameOf = (accountId: unknown): string | undefined =>
  typeof accountId === 'string' ? findUserByObjectId(accountId)?.username : undefined;

const answer = (ctx: KoaContext, { status, body }: { status: number; body: unknown }) => {
  ctx.status = status;
  ctx.set('cache-control', 'no-store');
  ctx.body = body;
};

/** Entra's code for refused app credentials: unknown client, a wrong secret, or none. */
const invalidClientCode = (clientId: string, sentSecret: boolean): number =>
  clientId !== LOCAL_CLIENT_ID && clientId !== LOCAL_PORTAL_CLIENT_ID ? 700016 : sentSecret ? 7000215 : 7000218;

/** Installs the Entra shaping of POST /token on the provider (replayTokenRequest must have read the body). */
export function shapeTokenEndpoint(provider: Provider, state: TokenEndpointState): void {
  const { faults, stats, tokensValidFrom, onBehalfOf: oboIssuer } = state;
  provider.use(async (ctx, next) => {
    if (ctx.path !== '/token' || ctx.method !== 'POST') return next();
    const params = tokenParams(ctx) ?? new URLSearchParams();
    const clientId = params.get('client_id') ?? '';
    const grantType = params.get('grant_type') ?? 'unknown';
    const rt = params.get('refresh_token');
    const presented = rt ? await provider.RefreshToken.find(rt, { ignoreExpiration: true }) : undefined;
    const refuse = (error: EntraTokenError) => {
      countTokenRequest(stats, grantType, usernameOf(presented?.accountId), error.status);
      answer(ctx, error);
    };
    const claims = requestedClaims(params.get('claims'));
    if (claims && claims !== 'invalid')
      for (const name of Object.keys(claims.accessToken)) stats.claims[name] = (stats.claims[name] ?? 0) + 1;

    const fault = faults.take();
    if (fault === 'down') {
      countTokenRequest(stats, grantType, usernameOf(presented?.accountId), 'down');
      ctx.respond = false;
      ctx.req.socket.destroy();
      return;
    }
    if (fault && 'aadsts' in fault) return refuse(entraTokenError(fault.aadsts, clientId));
    if (fault) {
      const { status, retryAfterSeconds } = fault;
      countTokenRequest(stats, grantType, usernameOf(presented?.accountId), status);
      ctx.status = status;
      ctx.set('cache-control', 'no-store');
      if (retryAfterSeconds !== undefined) ctx.set('retry-after', String(retryAfterSeconds));
      ctx.body = {
        error: status === 429 || status === 503 ? 'temporarily_unavailable' : 'server_error',
        error_description: `local fault injection: HTTP ${status}`,
      };
      return;
    }
    const clientAuthRefusal = (ctx.req as TokenRequestMessage).clientAuthRefusal;
    if (clientAuthRefusal) return refuse(clientAuthRefusal);
    if (claims === 'invalid') return refuse(entraTokenError(90100, clientId));
    // After revokeSignInSessions (or a password reset) Entra refuses refresh tokens issued before it, claims or not.
    const validFrom = presented?.accountId ? tokensValidFrom.get(presented.accountId) : undefined;
    if (grantType === 'refresh_token' && validFrom !== undefined && (presented?.iat ?? 0) < validFrom) {
      return refuse(entraTokenError(50173, clientId));
    }

    // oidc-provider has no On-Behalf-Of grant: answered here, after the faults, as Entra answers it.
    if (grantType === JWT_BEARER_GRANT) {
      const cp1 = claims !== undefined && claims.cp1;
      const obo = await onBehalfOf(oboIssuer, params, cp1);
      countTokenRequest(stats, grantType, obo.user?.username, obo.status);
      return answer(ctx, obo);
    }

    await next();

    // The app's own credentials refused (wrong secret, none, unknown client): answered as Entra does, not as oidc-provider.
    if (ctx.status === 401 && ctx.body && typeof ctx.body === 'object' && ctx.body.error === 'invalid_client') {
      answer(ctx, entraTokenError(invalidClientCode(clientId, !!params.get('client_secret')), clientId));
    }
    const entities = ctx.oidc?.entities ?? {};
    const accountId = entities.Account?.accountId ?? entities.RefreshToken?.accountId ?? entities.AuthorizationCode?.accountId;
    countTokenRequest(stats, grantType, usernameOf(accountId), ctx.status);
    const user = typeof entities.Account?.accountId === 'string' ? findUserByObjectId(entities.Account.accountId) : undefined;
    if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      // MSAL derives homeAccountId (`oid.tid`) from client_info, as Entra sends it.
      if (user) ctx.body.client_info = clientInfo(user);
      if (typeof ctx.body.scope === 'string') {
        const asked = ctx.oidc?.params?.scope ?? entities.AuthorizationCode?.scope ?? entities.RefreshToken?.scope;
        ctx.body.scope = entraResponseScope(ctx.body.scope, String(asked ?? ''));
      }
    }
  });
}
