/** The rules that decide whether a redeemed sign-in may become a connection (issue 12, finding 1). */
import { signInProblem, type SignInEvidence } from '../../src/connections/sign-in-checks';

const policy = { requiredRole: 'Connections.ServiceAccount', signInAppId: 'app-id-1' };
const stateCreatedAt = '2030-01-01T10:00:00.700Z';
const stateSecond = Date.parse('2030-01-01T10:00:00Z') / 1000;
const evidence = (claims: Record<string, unknown>, more: Partial<SignInEvidence> = {}): SignInEvidence => ({
  username: 'svc@contoso.test',
  idTokenClaims: { auth_time: stateSecond + 5, roles: ['Connections.ServiceAccount'], ...claims },
  stateCreatedAt,
  hasRefreshToken: true,
  ...more,
});

test('a fresh sign-in of a service account with a refresh token passes', () => {
  expect(signInProblem(evidence({}), policy)).toBeUndefined();
});

test("auth_time in the state's own second counts as fresh (it has whole seconds); a second earlier does not", () => {
  expect(signInProblem(evidence({ auth_time: stateSecond }), policy)).toBeUndefined();
  expect(signInProblem(evidence({ auth_time: stateSecond - 1 }), policy)?.title).toBe('Sign in again');
});

test('a token without auth_time, or with a malformed one, is refused with a message naming the claim', () => {
  for (const auth_time of [undefined, '1700000000', null, Number.NaN]) {
    const refusal = signInProblem(evidence({ auth_time }), policy);
    expect(refusal?.whatHappened).toContain('auth_time');
    expect(refusal?.whatToDo).toContain('auth_time');
  }
});

test('without the required role (no roles, other roles, a string): refused naming the role, the app and who assigns it', () => {
  for (const roles of [undefined, [], ['Connections.Admin'], 'Connections.ServiceAccount']) {
    const refusal = signInProblem(evidence({ roles }), policy);
    expect(refusal?.whatHappened).toContain('Connections.ServiceAccount');
    expect(refusal?.whatToDo).toContain('app-id-1');
    expect(refusal?.whatToDo).toContain('Users and groups');
  }
  // The check turned off (CONNECTION_ACCOUNT_ROLE_REQUIRED=false): any account of the tenant.
  expect(signInProblem(evidence({ roles: undefined }), { signInAppId: 'app-id-1' })).toBeUndefined();
});

test('no refresh token: refused', () => {
  expect(signInProblem(evidence({}, { hasRefreshToken: false }), policy)?.title).toBe('Sign-in returned no refresh token');
});
