/**
 * The local identity provider's development endpoints under /local/ (LOCAL ONLY; Entra has none): mint tokens,
 * revoke an account's grants or sign-in sessions, read and reset token-endpoint counts, inject token-endpoint faults.
 * Clients: launch.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT, type KeyLike } from 'jose';
import { HttpError, readJson, sendJson } from '../http-helpers';
import { findUser, LOCAL_API_AUDIENCE, LOCAL_API_CLIENT_ID, LOCAL_API_SCOPE, LOCAL_PORTAL_CLIENT_ID, type LocalUser } from './directory';
import type { AccountStore } from './store';
import { parseTokenEndpointFault } from './token-endpoint-faults';
import type { TokenEndpointState } from './token-endpoint';
import { resetTokenStats } from './token-stats';
import { apiTokenClaims, isAccessTokenVersion } from './token-versions';

export interface DevEndpointsContext extends TokenEndpointState {
  store: AccountStore;
  signing: { key: KeyLike; kid: string };
  issuer: string;
  url: string;
  accessTokenTtl: number;
}

async function userOf(req: IncomingMessage): Promise<{ body: Record<string, unknown>; user: LocalUser }> {
  const body = await readJson(req);
  const user = typeof body.username === 'string' ? findUser(body.username) : undefined;
  if (!user) throw new HttpError(400, `unknown username ${JSON.stringify(body.username)}`);
  return { body, user };
}

/** POST /local/tokens: an Entra-shaped access token (v1.0 or v2.0) or ID token, signed with the provider's key. */
async function mintToken(context: DevEndpointsContext, req: IncomingMessage): Promise<Record<string, unknown>> {
  const { body, user } = await userOf(req);
  const version = body.version === undefined ? 2 : body.version;
  if (!isAccessTokenVersion(version)) throw new HttpError(400, 'version must be 1 or 2');
  const kind = body.kind === undefined ? 'access' : body.kind;
  if (kind !== 'access' && kind !== 'id') throw new HttpError(400, "kind must be 'access' or 'id'");
  const clientId = body.clientId === undefined ? LOCAL_PORTAL_CLIENT_ID : body.clientId;
  if (typeof clientId !== 'string' || !clientId) throw new HttpError(400, 'clientId must be a non-empty string');
  const shaped = apiTokenClaims({ version, user, clientId, v2Issuer: context.issuer, providerUrl: context.url });
  // An ID token's audience is the client that signed in: with one registration for the admin page and the API,
  // the very client id that v2.0 access tokens for the API carry.
  const defaultAudience = kind === 'id' ? LOCAL_PORTAL_CLIENT_ID : shaped.aud;
  const audience = body.audience === undefined ? defaultAudience : body.audience;
  if (typeof audience !== 'string' || !audience) throw new HttpError(400, 'audience must be a non-empty string');
  const forApi = audience === LOCAL_API_AUDIENCE || audience === LOCAL_API_CLIENT_ID;
  const scp = body.scp === undefined ? (kind === 'access' && forApi ? LOCAL_API_SCOPE : null) : body.scp;
  if (scp !== null && (typeof scp !== 'string' || !scp)) throw new HttpError(400, 'scp must be a non-empty string or null');
  const expiresIn = body.expiresInSeconds === undefined ? context.accessTokenTtl : body.expiresInSeconds;
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn)) throw new HttpError(400, 'expiresInSeconds must be a number');
  const roles = body.roles === undefined ? [...user.roles] : body.roles;
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw new HttpError(400, 'roles must be an array of strings');
  const now = Math.floor(Date.now() / 1000);
  const { iss, aud: _versionAudience, ...claims } = shaped;
  // ID tokens name no calling client (`azp`/`appid`): the client is the audience.
  if (kind === 'id') for (const claim of ['azp', 'azpacr', 'appid', 'appidacr']) delete claims[claim];
  const accessToken = await new SignJWT({
    ...claims,
    sub: user.objectId,
    ...(roles.length || body.roles !== undefined ? { roles } : {}),
    ...(scp ? { scp } : {}),
    // An OpenID Connect ID token echoes the sign-in request's nonce; access tokens never carry one.
    ...(kind === 'id' ? { nonce: randomBytes(16).toString('base64url') } : {}),
  })
    .setProtectedHeader({ alg: 'RS256', kid: context.signing.kid, typ: 'JWT' })
    .setIssuer(String(iss))
    .setAudience(audience)
    .setIssuedAt(now)
    .setNotBefore(now)
    // A negative lifetime yields an already-expired token, which tests of expiry checks need.
    .setExpirationTime(now + Math.trunc(expiresIn))
    .setJti(randomUUID())
    .sign(context.signing.key);
  return { access_token: accessToken, token_type: 'Bearer', expires_in: Math.trunc(expiresIn) };
}

/**
 * POST /local/revoke-sessions: Entra's revokeSignInSessions. Refresh tokens issued before now stop working
 * (AADSTS50173), new sign-ins work. The boundary is the next whole second (tokens carry seconds), and the answer
 * waits for it, so every token issued before the call is older than it and every token issued after the answer is not.
 */
async function revokeSessions(context: DevEndpointsContext, req: IncomingMessage): Promise<Record<string, unknown>> {
  const { user } = await userOf(req);
  const validFrom = Math.floor(Date.now() / 1000) + 1;
  context.tokensValidFrom.set(user.objectId, validFrom);
  await new Promise((r) => setTimeout(r, Math.max(0, validFrom * 1000 - Date.now())));
  return { username: user.username, objectId: user.objectId, tokensValidFrom: validFrom };
}

/** Serves `/local/...`; unknown routes get 404. Bad input is HttpError 400 (the server's listener answers it). */
export async function devEndpoint(context: DevEndpointsContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  switch (`${req.method} ${path}`) {
    case 'POST /local/tokens':
      return sendJson(res, 200, await mintToken(context, req));
    case 'POST /local/revoke': {
      const { user } = await userOf(req);
      return sendJson(res, 200, { revokedGrants: context.store.revokeAccount(user.objectId) });
    }
    case 'POST /local/revoke-sessions':
      return sendJson(res, 200, await revokeSessions(context, req));
    case 'GET /local/stats':
      return sendJson(res, 200, context.stats);
    case 'POST /local/stats/reset':
      resetTokenStats(context.stats);
      return sendJson(res, 200, context.stats);
    case 'POST /local/faults': {
      const { tokenEndpoint } = await readJson(req);
      return sendJson(res, 200, { tokenEndpoint: context.faults.set(parseTokenEndpointFault(tokenEndpoint)) });
    }
    default:
      return sendJson(res, 404, { error: 'not_found' });
  }
}
