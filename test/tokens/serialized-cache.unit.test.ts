import { accessTokenIn, cacheHashOf, refreshTokenHashOf } from '../../src/tokens/serialized-cache';

/*
 * Serialized caches in the shape msal-node's TokenCache.serialize() writes (msal-common SerializedAccountEntity,
 * SerializedAccessTokenEntity: times as strings of epoch seconds, `target` = the token response's `scope`).
 */
const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const objectId = '0b2a7c3e-5f51-4a48-9c6b-2f1a0e7d9c11';
const ref = { tenantId, objectId };
const home = `${objectId}.${tenantId}`;
const scopes = ['https://graph.microsoft.com/.default'];
const NOW_S = 1_750_000_000;

interface At {
  secret: string;
  target?: string;
  expiresIn?: number;
  cachedAgo?: number;
  home?: string;
  tokenType?: string;
}

function cacheWith(ats: At[], refreshTokens: string[] = ['rt-1']): string {
  const AccessToken = Object.fromEntries(
    ats.map((at, i) => [
      `key-${i}`,
      {
        home_account_id: at.home ?? home,
        environment: 'login.microsoftonline.com',
        credential_type: 'AccessToken',
        client_id: 'client',
        secret: at.secret,
        realm: tenantId,
        target: at.target ?? 'Files.ReadWrite.All User.Read openid profile offline_access',
        cached_at: String(NOW_S - (at.cachedAgo ?? 0)),
        expires_on: String(NOW_S + (at.expiresIn ?? 3600)),
        ...(at.tokenType ? { token_type: at.tokenType } : {}),
      },
    ]),
  );
  const RefreshToken = Object.fromEntries(
    refreshTokens.map((secret, i) => [`rt-${i}`, { home_account_id: home, credential_type: 'RefreshToken', secret }]),
  );
  return JSON.stringify({
    Account: { [`${home}-login.microsoftonline.com-${tenantId}`]: { home_account_id: home, local_account_id: objectId, realm: tenantId } },
    AccessToken,
    RefreshToken,
    IdToken: {},
    AppMetadata: {},
  });
}

describe('accessTokenIn', () => {
  test("finds the connection's Graph token Entra stored without the resource prefix, with its times", () => {
    expect(accessTokenIn(cacheWith([{ secret: 'at-1', cachedAgo: 10 }]), ref, scopes)).toEqual({
      token: 'at-1',
      expiresOn: new Date((NOW_S + 3600) * 1000),
      cachedAt: (NOW_S - 10) * 1000,
    });
  });

  test('among matching tokens, the one that lives longest wins', () => {
    const cache = cacheWith([
      { secret: 'short', expiresIn: 600 },
      { secret: 'long', expiresIn: 5000 },
      { secret: 'middle', expiresIn: 3000 },
    ]);
    expect(accessTokenIn(cache, ref, scopes)?.token).toBe('long');
  });

  test("ignores other accounts' tokens, tokens for other resources, and non-Bearer (PoP) tokens", () => {
    const cache = cacheWith([
      { secret: 'other-account', home: `someone.${tenantId}`, expiresIn: 9000 },
      { secret: 'other-api', target: 'api://connections/access_as_user', expiresIn: 9000 },
      { secret: 'pop', tokenType: 'pop', expiresIn: 9000 },
      { secret: 'ours', expiresIn: 100 },
    ]);
    expect(accessTokenIn(cache, ref, scopes)?.token).toBe('ours');
    expect(accessTokenIn(cache, { tenantId, objectId: 'someone-else' }, scopes)).toBeUndefined();
  });

  test('a token without the asked permission does not serve', () => {
    expect(accessTokenIn(cacheWith([{ secret: 'at', target: 'User.Read openid' }]), ref, ['Sites.ReadWrite.All'])).toBeUndefined();
  });

  test('unreadable or unexpected text yields nothing instead of throwing', () => {
    for (const text of ['', 'not json', 'null', '42', '{"AccessToken":{"x":{"secret":"s"}}}']) {
      expect(accessTokenIn(text, ref, scopes)).toBeUndefined();
    }
    const broken = JSON.parse(cacheWith([{ secret: 'at' }])) as { AccessToken: Record<string, Record<string, string>> };
    broken.AccessToken['key-0'].expires_on = 'soon';
    expect(accessTokenIn(JSON.stringify(broken), ref, scopes)).toBeUndefined();
  });
});

describe('refreshTokenHashOf', () => {
  test('changes with the refresh token, not with access tokens', () => {
    const a = refreshTokenHashOf(cacheWith([{ secret: 'at-1' }], ['rt-1']));
    expect(a).toBe(refreshTokenHashOf(cacheWith([{ secret: 'at-2', expiresIn: 10 }], ['rt-1'])));
    expect(a).not.toBe(refreshTokenHashOf(cacheWith([{ secret: 'at-1' }], ['rt-2'])));
  });

  test("'' when the cache has no refresh token or cannot be read; never the token itself", () => {
    expect(refreshTokenHashOf(cacheWith([{ secret: 'at' }], []))).toBe('');
    expect(refreshTokenHashOf('not json')).toBe('');
    expect(refreshTokenHashOf('null')).toBe('');
    expect(refreshTokenHashOf(cacheWith([], ['rt-secret-value']))).not.toContain('rt-secret');
  });

  test('does not depend on the order MSAL lists refresh tokens in', () => {
    expect(refreshTokenHashOf(cacheWith([], ['a', 'b']))).toBe(refreshTokenHashOf(cacheWith([], ['b', 'a'])));
  });
});

describe('cacheHashOf', () => {
  test('tells versions apart, is stable, and reveals no token text', () => {
    const cache = cacheWith([{ secret: 'at-secret' }]);
    expect(cacheHashOf(cache)).toBe(cacheHashOf(cache));
    expect(cacheHashOf(cache)).not.toBe(cacheHashOf(cacheWith([{ secret: 'at-other' }])));
    expect(cacheHashOf(cache)).toMatch(/^[\w-]{43}$/);
  });
});
