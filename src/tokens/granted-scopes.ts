/** Which access token in an MSAL cache serves a request: the granted scopes MSAL stored (`target`) against the requested ones. */

const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

/** MSAL stores the granted scopes; `<resource>/.default` is covered by any scope of that resource. */
export function coversScopes(target: string, scopes: string[]): boolean {
  const granted = target.toLowerCase().split(/\s+/).filter(Boolean);
  return scopes.every((s) => {
    const scope = s.toLowerCase();
    if (OIDC_SCOPES.has(scope)) return true;
    if (scope.endsWith('/.default')) {
      const resource = scope.slice(0, -'.default'.length);
      return granted.some((g) => g === scope || g.startsWith(resource));
    }
    return granted.includes(scope);
  });
}

