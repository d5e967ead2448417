/**
 * Reading a claims challenge from a `WWW-Authenticate` header. The header shapes are Microsoft's
 * (learn.microsoft.com/entra/identity-platform/claims-challenge and app-resilience-continuous-access-evaluation):
 *   Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize",
 *     error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTYwNDEwNjY1MSJ9fX0="
 * The claims value is base64 of the JSON claims request that MSAL's `claims` option takes.
 */
import { claimsChallengeOf, claimsChallengeHeader } from '../../src/tokens/claims-challenge';

const CAE_EXAMPLE = 'eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTYwNDEwNjY1MSJ9fX0=';
const CA_EXAMPLE = 'eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiY3AxIn19fQ==';

test("Microsoft's CAE example: the claims request, decoded", () => {
  const header = `Bearer authorization_uri="https://login.windows.net/common/oauth2/authorize", error="insufficient_claims", claims="${CAE_EXAMPLE}"`;
  expect(JSON.parse(claimsChallengeOf(header)!)).toEqual({ access_token: { nbf: { essential: true, value: '1604106651' } } });
});

test("Microsoft's claims-challenge example, with realm and in another order", () => {
  const header = `Bearer realm="", claims="${CA_EXAMPLE}", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims"`;
  expect(JSON.parse(claimsChallengeOf(header)!)).toEqual({ access_token: { acrs: { essential: true, value: 'cp1' } } });
});

test('what the Graph stand-in sends is read back', () => {
  const claims = { access_token: { nbf: { essential: true, value: '1800000000' } } };
  expect(JSON.parse(claimsChallengeOf(claimsChallengeHeader(claims))!)).toEqual(claims);
});

test.each([
  ['no header', undefined],
  [
    'a plain Bearer challenge (missing or invalid token)',
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"',
  ],
  ['another error', `Bearer error="invalid_token", claims="${CAE_EXAMPLE}"`],
  ['insufficient_claims without claims', 'Bearer error="insufficient_claims"'],
  ['claims that are not base64 of JSON', 'Bearer error="insufficient_claims", claims="not base64!"'],
  ['claims that are JSON but not an object', `Bearer error="insufficient_claims", claims="${Buffer.from('[1,2]').toString('base64')}"`],
  ['another scheme', `Basic error="insufficient_claims", claims="${CAE_EXAMPLE}"`],
  [
    'an oversized header',
    `Bearer error="insufficient_claims", claims="${Buffer.from(JSON.stringify({ access_token: { x: 'y'.repeat(20_000) } })).toString('base64')}"`,
  ],
])('not a claims challenge: %s', (_label, header) => {
  expect(claimsChallengeOf(header)).toBeUndefined();
});
