import { UserAssertion } from '../../src/shared/user';
import { isDeadGrant } from '../../src/tokens/token-errors';
import { onBehalfOfClient, UserTokens, type UserTokenSettings } from '../../src/tokens/user-tokens';
import { inspect } from 'node:util';

const settings: UserTokenSettings = {
  AUTH_CLIENT_ID: 'sign-in-app',
  AUTH_CLIENT_SECRET: 'sign-in-secret',
  ADMIN_TOKEN_AUDIENCE: ['api://connections', 'api-app'],
  USER_GRAPH_SCOPES: ['https://graph.microsoft.com/.default'],
};

describe('onBehalfOfClient: the registration that may exchange user tokens', () => {
  test('API_CLIENT_ID when set', () => {
    expect(onBehalfOfClient({ ...settings, API_CLIENT_ID: 'api-app', API_CLIENT_SECRET: 'api-secret' })).toEqual({
      clientId: 'api-app',
      clientSecret: 'api-secret',
    });
  });

  test('the sign-in app when it is also the API (one registration)', () => {
    expect(onBehalfOfClient({ ...settings, ADMIN_TOKEN_AUDIENCE: ['sign-in-app'] })).toEqual({
      clientId: 'sign-in-app',
      clientSecret: 'sign-in-secret',
    });
  });

  test('otherwise a problem that says what to set (Entra would refuse the exchange with AADSTS50013)', () => {
    expect(onBehalfOfClient(settings)).toEqual({
      problem: expect.stringContaining(
        'Set API_CLIENT_ID to it with its credential (API_CLIENT_CREDENTIAL managedIdentity, or API_CLIENT_SECRET)',
      ),
    });
    expect(() => new UserTokens(settings, { create: async () => ({}) as never }).assertConfigured()).toThrow(
      'User processes are not configured',
    );
  });
});

describe('UserTokens', () => {
  test('an expired assertion ends the session without a call to Entra', async () => {
    let created = 0;
    const tokens = new UserTokens(
      { ...settings, ADMIN_TOKEN_AUDIENCE: ['sign-in-app'] },
      { create: async () => (created++, {}) as never },
      () => 2_000_000,
    );
    const error = await tokens.graphToken(new UserAssertion('a.b.c', new Date(1_000_000))).catch((e: unknown) => e);
    expect(isDeadGrant(error)).toBe(true);
    expect(created).toBe(0);
  });

  test('a refused exchange is the user session ending, in words for the user, never the raw MSAL message', async () => {
    const refusal = Object.assign(new Error('AADSTS500133: Assertion is not within its valid time range. assertion=eyJhbGciOi.x.y'), {
      errorCode: 'invalid_grant',
    });
    const app = { acquireTokenOnBehalfOf: async () => Promise.reject(refusal) };
    const tokens = new UserTokens({ ...settings, ADMIN_TOKEN_AUDIENCE: ['sign-in-app'] }, { create: async () => app as never });
    const error = await tokens.graphToken(new UserAssertion('a.b.c', new Date(Date.now() + 60_000))).catch((e: unknown) => e);
    expect(isDeadGrant(error)).toBe(true);
    expect((error as Error).message).toBe(
      "The user's sign-in session can no longer be used (invalid_grant, AADSTS500133); the user must continue the run with a fresh token.",
    );
  });

  test('one client per instance serves every exchange (MSAL caches exchanged tokens in it)', async () => {
    let created = 0;
    const calls: string[] = [];
    const app = {
      acquireTokenOnBehalfOf: async (r: { oboAssertion: string; scopes: string[] }) => {
        calls.push(`${r.oboAssertion} ${r.scopes.join(' ')}`);
        return { accessToken: 'graph-token', expiresOn: new Date(Date.now() + 3600_000) };
      },
    };
    const tokens = new UserTokens(
      { ...settings, API_CLIENT_ID: 'api-app', API_CLIENT_SECRET: 's' },
      { create: async () => (created++, app as never) },
    );
    const assertion = new UserAssertion('a.b.c', new Date(Date.now() + 60_000));
    for (let i = 0; i < 3; i++) expect((await tokens.graphToken(assertion)).token).toBe('graph-token');
    expect(created).toBe(1);
    expect(calls).toEqual(Array(3).fill('a.b.c https://graph.microsoft.com/.default'));
  });
});

describe('UserAssertion', () => {
  test('never shows the token in JSON, text or inspection', () => {
    const assertion = new UserAssertion('eyJ.secret-token.sig', new Date(0));
    const shown = [JSON.stringify({ assertion }), String(assertion), `${assertion}`, inspect({ assertion })].join(' ');
    expect(shown).not.toContain('secret-token');
    expect(assertion.reveal()).toBe('eyJ.secret-token.sig');
  });
});
