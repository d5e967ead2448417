/**
 * Claims challenges (continuous access evaluation, Conditional Access authentication context).
 *
 * A CAE-enabled resource such as Microsoft Graph rejects a still-valid access token of a CAE-capable client (one that
 * declared the `CP1` client capability) with HTTP 401 and
 *   WWW-Authenticate: Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize",
 *                     error="insufficient_claims", claims="<base64 of a JSON claims request>"
 * when Entra revoked the session (password reset, account disabled, sessions revoked) or a policy changed. The client
 * answers by acquiring a token with those claims (MSAL `claims` option) and retrying once; when that needs a user
 * (the grant is revoked too), the connection needs re-authorization.
 * Sources: learn.microsoft.com/entra/identity-platform/claims-challenge (header format),
 * learn.microsoft.com/entra/identity-platform/app-resilience-continuous-access-evaluation (CAE example, CP1, retry once).
 */

/** Longer headers are not a challenge this app answers (Graph's are a few hundred characters). */
const MAX_HEADER_LENGTH = 8192;

/** The header a resource sends for `claims`; used by the local Graph stand-in. */
export function claimsChallengeHeader(claims: object): string {
  const encoded = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64');
  return `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="${encoded}"`;
}

/**
 * The claims request (JSON text, as MSAL's `claims` option takes it) of a Bearer `insufficient_claims` challenge;
 * undefined for any other header, or when the claims are not base64 of a JSON object.
 */
export function claimsChallengeOf(wwwAuthenticate: string | null | undefined): string | undefined {
  if (!wwwAuthenticate || wwwAuthenticate.length > MAX_HEADER_LENGTH) return undefined;
  const bearer = /(?:^|,)\s*Bearer\s+(.*)$/is.exec(wwwAuthenticate)?.[1];
  if (bearer === undefined) return undefined;
  const params = new Map<string, string>();
  for (const m of bearer.matchAll(/([A-Za-z_][\w-]*)\s*=\s*"([^"]*)"/g))
    if (!params.has(m[1].toLowerCase())) params.set(m[1].toLowerCase(), m[2]);
  const encoded = params.get('claims');
  if (params.get('error') !== 'insufficient_claims' || !encoded) return undefined;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
    if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
