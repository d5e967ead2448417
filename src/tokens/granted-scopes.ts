/**
 * Which access token in an MSAL cache serves a request: the granted scopes MSAL stored (`target`) against the
 * requested ones.
 *
 * MSAL stores Entra's token-response `scope` as the token's `target` (msal-common ResponseHandler.generateCacheRecord).
 * Entra answers Microsoft Graph permissions without their resource: `User.Read Sites.ReadWrite.All openid profile`,
 * a `/.default` request expanded to the consented permissions; other APIs keep their App ID URI
 * (`api://connections/access_as_user`). "If the resource identifier is omitted in the scope parameter, the resource
 * is assumed to be Microsoft Graph" (learn.microsoft.com/entra/identity-platform/scopes-oidc); MSAL itself does not
 * equate the two forms (AzureAD/microsoft-authentication-library-for-android#672), so a literal comparison misses
 * every Graph token Entra issued. Comparison here is by (resource, permission), case-insensitively.
 */

const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

/** The resource an unprefixed permission belongs to, and the identifiers of Microsoft Graph (public and national clouds, app id). */
const GRAPH = 'microsoft-graph';
const GRAPH_RESOURCES = new Set([
  'https://graph.microsoft.com',
  '00000003-0000-0000-c000-000000000000',
  'https://graph.microsoft.us',
  'https://dod-graph.microsoft.us',
  'https://microsoftgraph.chinacloudapi.cn',
]);

interface Permission {
  resource: string;
  name: string;
}

/** `<resource>/<name>`, or a bare name (a Graph permission); undefined for OpenID Connect scopes. */
function permissionOf(scope: string): Permission | undefined {
  const s = scope.toLowerCase();
  if (OIDC_SCOPES.has(s)) return undefined;
  const slash = s.lastIndexOf('/');
  if (slash < 0) return { resource: GRAPH, name: s };
  const resource = s.slice(0, slash).replace(/\/+$/, '');
  return { resource: GRAPH_RESOURCES.has(resource) ? GRAPH : resource, name: s.slice(slash + 1) };
}

/** True when the granted scopes (`target`) include everything asked; `<resource>/.default` asks for any permission of the resource. */
export function coversScopes(target: string, scopes: string[]): boolean {
  const granted = target
    .split(/\s+/)
    .filter(Boolean)
    .map(permissionOf)
    .filter((p): p is Permission => p !== undefined);
  return scopes.every((scope) => {
    const wanted = permissionOf(scope);
    if (!wanted) return true;
    if (wanted.name === '.default') return granted.some((g) => g.resource === wanted.resource);
    return granted.some((g) => g.resource === wanted.resource && g.name === wanted.name);
  });
}
