/**
 * The `target` MSAL stores for an access token is the `scope` of Entra's token response, split and re-joined
 * (msal-common ResponseHandler.generateCacheRecord: `ScopeSet.fromString(serverTokenResponse.scope)`). Entra answers
 * Microsoft Graph permissions WITHOUT the resource prefix ("User.Read", not "https://graph.microsoft.com/User.Read";
 * "if the resource identifier is omitted in the scope parameter, the resource is assumed to be Microsoft Graph",
 * learn.microsoft.com/entra/identity-platform/scopes-oidc; AzureAD/microsoft-authentication-library-for-android#672,
 * AzureAD/microsoft-authentication-library-for-python#450 show such cache entries), a `/.default` request expanded to
 * the consented permissions, and the OpenID Connect scopes that were asked for. Other APIs keep their App ID URI.
 */
import { coversScopes } from '../../src/tokens/granted-scopes';

const GRAPH_DEFAULT = ['https://graph.microsoft.com/.default'];

describe('a cached token covers the request when Entra granted it, in the shapes Entra answers', () => {
  test.each([
    [
      'Graph permissions unprefixed, with OIDC scopes',
      'Files.ReadWrite.All Sites.ReadWrite.All User.Read profile openid email',
      GRAPH_DEFAULT,
    ],
    ['Graph permissions unprefixed, one of them', 'User.Read', GRAPH_DEFAULT],
    ['Graph permissions unprefixed, any case', 'user.read OPENID', GRAPH_DEFAULT],
    ['Graph permissions prefixed (what older stand-ins answered)', 'https://graph.microsoft.com/User.Read openid', GRAPH_DEFAULT],
    [
      'an explicit Graph permission asked prefixed, granted unprefixed',
      'User.Read Sites.ReadWrite.All openid',
      ['https://graph.microsoft.com/User.Read'],
    ],
    ['an explicit Graph permission asked unprefixed, granted unprefixed', 'User.Read openid', ['User.Read', 'openid', 'offline_access']],
    ['Graph named by its app id', 'User.Read', ['00000003-0000-0000-c000-000000000000/.default']],
    ['another API keeps its App ID URI', 'api://connections-local/access_as_user openid profile', ['api://connections-local/.default']],
  ])('%s', (_label, target, scopes) => {
    expect(coversScopes(target, scopes)).toBe(true);
  });
});

describe('and never serves a token of another resource or with less than asked', () => {
  test.each([
    ['OIDC scopes only (an ID-token-only answer)', 'openid profile email offline_access', GRAPH_DEFAULT],
    ['another API for Graph', 'api://connections-local/access_as_user openid', GRAPH_DEFAULT],
    ['Graph for another API', 'User.Read Sites.ReadWrite.All openid', ['api://connections-local/.default']],
    ['a resource whose URI merely starts like Graph', 'https://graph.microsoft.com.evil.test/User.Read', GRAPH_DEFAULT],
    ['a Graph permission not granted', 'User.Read openid', ['https://graph.microsoft.com/Mail.Send']],
    ['an empty target', '', GRAPH_DEFAULT],
  ])('%s', (_label, target, scopes) => {
    expect(coversScopes(target, scopes)).toBe(false);
  });
});
