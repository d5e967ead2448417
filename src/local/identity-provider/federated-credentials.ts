/**
 * Client assertions at the local identity provider's token endpoint (LOCAL ONLY), checked as Entra checks a managed
 * identity used as a federated identity credential of an app registration
 * (learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity): the request
 * carries client_assertion_type urn:ietf:params:oauth:client-assertion-type:jwt-bearer and client_assertion = a token of
 * the managed identity, whose issuer, subject and audience must match one federated credential of the client, signed by
 * the issuer, within its lifetime. Refusals are Entra's invalid_client answers: 700211 (issuer), 700213 (subject),
 * 700212 (audience), 700027 (signature), 700024 (expired); texts as quoted in Azure/azure-workload-identity#1200 and
 * #616, Azure/login#517 and #180.
 *
 * The managed identity's tokens come from a local issuer of its own (the vendor tenant's, its own key), served at
 * GET /local/managed-identity/token the way the Functions host's identity endpoint answers (resource, client_id).
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, generateKeyPair, jwtVerify, SignJWT, type KeyLike } from 'jose';
import { entraTokenError, type EntraTokenError } from './entra-token-errors';
import {
  LOCAL_API_CLIENT_ID,
  LOCAL_API_CLIENT_SECRET,
  LOCAL_CLIENT_ID,
  LOCAL_CLIENT_SECRET,
  LOCAL_MANAGED_IDENTITY,
  LOCAL_VENDOR_TENANT_ID,
  TOKEN_EXCHANGE_AUDIENCE,
} from './directory';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface ManagedIdentityIssuer {
  issuer: string;
  key: KeyLike;
  publicKey: KeyLike;
  kid: string;
}

/** The local managed identity's issuer: Entra's v2.0 issuer of the vendor tenant, under this provider. */
export async function createManagedIdentityIssuer(providerUrl: string): Promise<ManagedIdentityIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { issuer: `${providerUrl}/${LOCAL_VENDOR_TENANT_ID}/v2.0`, key: privateKey, publicKey, kid: randomUUID() };
}

interface FederatedCredential {
  issuer: string;
  subject: string;
  audiences: readonly string[];
}

/** Each registration's federated credential (the managed identity) and the secret oidc-provider knows it by. */
const federatedClients = (mi: ManagedIdentityIssuer): Record<string, { credential: FederatedCredential; internalSecret: string }> => {
  const credential = { issuer: mi.issuer, subject: LOCAL_MANAGED_IDENTITY.objectId, audiences: [TOKEN_EXCHANGE_AUDIENCE] };
  return {
    [LOCAL_CLIENT_ID]: { credential, internalSecret: LOCAL_CLIENT_SECRET },
    [LOCAL_API_CLIENT_ID]: { credential, internalSecret: LOCAL_API_CLIENT_SECRET },
  };
};

/**
 * GET /local/managed-identity/token?resource=<audience>&client_id=<identity client id>: the identity's token, answered
 * like the App Service identity endpoint (`access_token`, `expires_on` in epoch seconds, `resource`, `token_type`).
 * `expires_in` (local only) gives a token of another lifetime, negative for an expired one.
 */
export async function managedIdentityToken(
  mi: ManagedIdentityIssuer,
  query: URLSearchParams,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const resource = query.get('resource') ?? '';
  const clientId = query.get('client_id') ?? '';
  if (!resource) return { status: 400, body: { error: 'invalid_request', error_description: 'resource is required' } };
  if (clientId !== LOCAL_MANAGED_IDENTITY.clientId) {
    return {
      status: 400,
      body: { error: 'invalid_request', error_description: `Identity not found: no managed identity with client id '${clientId}'` },
    };
  }
  const lifetime = Number(query.get('expires_in') ?? 3600);
  if (!Number.isFinite(lifetime))
    return { status: 400, body: { error: 'invalid_request', error_description: 'expires_in must be a number' } };
  const now = Math.floor(Date.now() / 1000);
  const exp = now + Math.trunc(lifetime);
  const token = await new SignJWT({
    sub: LOCAL_MANAGED_IDENTITY.objectId,
    oid: LOCAL_MANAGED_IDENTITY.objectId,
    tid: LOCAL_VENDOR_TENANT_ID,
    appid: LOCAL_MANAGED_IDENTITY.clientId,
    azp: LOCAL_MANAGED_IDENTITY.clientId,
    ver: '2.0',
  })
    .setProtectedHeader({ alg: 'RS256', kid: mi.kid, typ: 'JWT' })
    .setIssuer(mi.issuer)
    .setAudience(resource)
    .setIssuedAt(now)
    .setNotBefore(Math.min(now, exp))
    .setExpirationTime(exp)
    .setJti(randomUUID())
    .sign(mi.key);
  return { status: 200, body: { access_token: token, expires_on: String(exp), resource, token_type: 'Bearer', client_id: clientId } };
}

const federationMismatch = (code: number, clientId: string, what: string, presented: string): EntraTokenError =>
  entraTokenError(code, clientId, {
    reason:
      `No matching federated identity record found for presented assertion ${what} '${presented}'. ` +
      'Check your federated identity credential Subject, Audience and Issuer against the presented assertion.',
  });

/**
 * Authenticates a token request that carries a client assertion. On success the assertion is replaced in `params` by
 * the client's internal secret, so oidc-provider (and the On-Behalf-Of grant) see an authenticated client; requests
 * without an assertion are left alone. Returns Entra's refusal otherwise.
 */
export async function acceptClientAssertion(mi: ManagedIdentityIssuer, params: URLSearchParams): Promise<EntraTokenError | undefined> {
  const assertion = params.get('client_assertion');
  const assertionType = params.get('client_assertion_type');
  if (!assertion && !assertionType) return undefined;
  const clientId = params.get('client_id') ?? '';
  if (assertionType !== JWT_BEARER_ASSERTION_TYPE) return entraTokenError(900144, clientId, { parameter: 'client_assertion_type' });
  if (!assertion) return entraTokenError(900144, clientId, { parameter: 'client_assertion' });
  const client = federatedClients(mi)[clientId];
  if (!client) return entraTokenError(700016, clientId);
  let claims: Record<string, unknown>;
  try {
    decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    return entraTokenError(50027, clientId);
  }
  const { credential } = client;
  if (claims.iss !== credential.issuer) return federationMismatch(700211, clientId, 'issuer', String(claims.iss ?? ''));
  try {
    await jwtVerify(assertion, mi.publicKey, { algorithms: ['RS256'], clockTolerance: 0, requiredClaims: ['exp'] });
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) {
      return entraTokenError(700024, clientId, {
        reason:
          `Client assertion is not within its valid time range. Current time: ${new Date().toISOString()}, ` +
          `expiry time of assertion ${new Date(Number(claims.exp) * 1000).toISOString()}.`,
      });
    }
    if (!(e instanceof joseErrors.JWTClaimValidationFailed)) return entraTokenError(700027, clientId);
  }
  if (claims.sub !== credential.subject) return federationMismatch(700213, clientId, 'subject', String(claims.sub ?? ''));
  const audiences = Array.isArray(claims.aud) ? claims.aud.map(String) : [String(claims.aud ?? '')];
  if (!audiences.some((a) => credential.audiences.includes(a)))
    return federationMismatch(700212, clientId, 'audience', audiences.join(','));
  params.delete('client_assertion');
  params.delete('client_assertion_type');
  params.set('client_secret', client.internalSecret);
  return undefined;
}
