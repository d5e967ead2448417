/**
 * Token errors sorted into what they mean for a connection. The errors are MSAL's own classes, built the way
 * msal-common's ResponseHandler.validateTokenResponse builds them from a token-endpoint answer
 * (`error` -> errorCode, `error_description` inside errorMessage, `error_codes[0]` -> errorNo, HTTP status -> status).
 *
 * Entra's answers for the app's own credentials (learn.microsoft.com/entra/identity-platform/reference-error-codes):
 * 7000215 invalid client secret, 7000222 client secret expired, 7000218 no client secret or assertion,
 * 700016 application not found in the directory, 700027/700024 client assertion invalid or out of its time window,
 * 7000112 application disabled. They say nothing about the account's refresh token, which stays valid.
 */
import { InteractionRequiredAuthError, ServerError } from '@azure/msal-node';
import { classifyTokenError, tenantAppRefusalIn } from '../../src/tokens/token-errors';

/** A token-endpoint answer as MSAL turns it into an error. */
function answered(status: number, error: string, code: number | undefined, description: string): ServerError {
  const text = `Error(s): ${code ?? 'Not Available'} - Timestamp: 2026-11-30 10:00:00Z - Description: ${description} - Correlation ID: c - Trace ID: t`;
  return new ServerError(error, 'c', text, undefined, code === undefined ? undefined : String(code), status);
}

describe('the app registration refused: application credentials, whatever the connection', () => {
  test.each([
    [
      401,
      'invalid_client',
      7000215,
      "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'c0c0'.",
    ],
    [
      401,
      'invalid_client',
      7000222,
      "AADSTS7000222: The provided client secret keys for app 'c0c0' are expired. Visit the Azure portal to create new keys for your app.",
    ],
    [
      401,
      'invalid_client',
      7000218,
      "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ],
    [400, 'unauthorized_client', 700016, "AADSTS700016: Application with identifier 'c0c0' was not found in the directory 'Contoso'."],
    [401, 'invalid_client', 700027, 'AADSTS700027: Client assertion failed signature validation.'],
    [400, 'unauthorized_client', 7000112, "AADSTS7000112: Application 'c0c0' is disabled."],
    [401, 'invalid_client', undefined, 'client authentication failed'],
  ])('HTTP %i %s, error_codes [%s]', (status, error, code, description) => {
    const failure = classifyTokenError(answered(status, error, code, description));
    expect(failure.kind).toBe('application_credentials');
    // Names the app's credentials, not the connection; never asks to re-authorize it.
    expect(failure.reason).toMatch(/app(lication)?'s (own )?credentials|client secret/i);
    expect(failure.reason).not.toMatch(/re-authori/i);
    if (code) expect(failure.reason).toContain(`AADSTS${code}`);
  });
});

describe('other answers keep their meaning', () => {
  test.each([
    [
      'invalid_grant 70008',
      answered(400, 'invalid_grant', 70008, 'AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.'),
      'dead_grant',
    ],
    [
      'invalid_grant 50173',
      answered(400, 'invalid_grant', 50173, 'AADSTS50173: The provided grant has expired due to it being revoked.'),
      'dead_grant',
    ],
    [
      'interaction_required',
      new InteractionRequiredAuthError('interaction_required', 'c', 'AADSTS50076: MFA required', '', '', '', '', '50076'),
      'dead_grant',
    ],
    ['HTTP 500', answered(500, 'server_error', undefined, 'boom'), 'transient'],
    ['HTTP 429', answered(429, 'temporarily_unavailable', undefined, 'slow down'), 'transient'],
  ])('%s', (_label, error, kind) => {
    expect(classifyTokenError(error).kind).toBe(kind);
  });
});

describe('what MSAL and the network throw besides server answers', () => {
  test('an AADSTS code only in errorNo counts (no code in the message)', () => {
    expect(classifyTokenError({ errorCode: 'invalid_grant', errorNo: '70008', status: 400 }).kind).toBe('dead_grant');
    const app = classifyTokenError({ errorCode: 'some_error', errorNo: 7000222, status: 401 });
    expect(app).toMatchObject({ kind: 'application_credentials', code: 7000222 });
  });

  test('a dead grant names the code and asks to re-authorize; it never quotes the description', () => {
    const failure = classifyTokenError(answered(400, 'invalid_grant', 70008, 'AADSTS70008: secret-looking detail eyJabc.def'));
    expect(failure).toEqual({
      kind: 'dead_grant',
      reason: expect.stringContaining('invalid_grant (AADSTS70008). Re-authorize the connection.'),
    });
    expect(failure.reason).not.toContain('eyJ');
  });

  test('MSAL cache misses mean no usable grant', () => {
    for (const errorCode of ['no_tokens_found', 'no_account_found']) expect(classifyTokenError({ errorCode }).kind).toBe('dead_grant');
  });

  test('no answer at all is transient, whatever was thrown', () => {
    for (const thrown of [new TypeError('fetch failed'), { errorCode: 'network_error' }, null, undefined, 'boom']) {
      const failure = classifyTokenError(thrown);
      expect(failure.kind).toBe('transient');
      expect(failure.reason).toMatch(/temporarily unavailable/);
    }
  });
});

describe('what each refused credential tells the operator to check', () => {
  test.each([
    [7000222, /renew the app registration's client secret/],
    [
      700024,
      /federated credential for the app's managed identity.*subject = the identity's object \(principal\) id, audience api:\/\/AzureADTokenExchange/,
    ],
    [700211, /federated credential/],
    [700212, /federated credential/],
    [700213, /federated credential/],
    [700016, /client id, that it exists and is enabled/],
  ])('AADSTS%i', (code, what) => {
    const failure = classifyTokenError(answered(401, 'invalid_client', code, `AADSTS${code}: refused`));
    expect(failure).toMatchObject({ kind: 'application_credentials', code });
    expect(failure.reason).toMatch(what);
  });
});

describe('Conditional Access: a dead grant whose reason names the policy and what to change', () => {
  test.each([53003, 50076, 50079, 50158, 53000])('AADSTS%i', (code) => {
    const failure = classifyTokenError(
      new InteractionRequiredAuthError('invalid_grant', `AADSTS${code}: refused by policy`, 'basic_action', '', '', '', '', String(code)),
    );
    expect(failure.kind).toBe('dead_grant');
    expect(failure.reason).toContain('Conditional Access');
    expect(failure.reason).toContain(`AADSTS${code}`);
    expect(failure.reason).toMatch(
      /exclude the designated service accounts from that policy or trust the app's static outgoing IP as a named location/,
    );
    expect(failure.reason).toContain('Conditional Access for designated service accounts');
  });
});

describe("a tenant's refresh refused because that tenant removed or disabled the app", () => {
  test.each([
    [
      700016,
      "AADSTS700016: Application with identifier 'c0c0' was not found in the directory 'Contoso'.",
      /deleted or its consent removed/,
    ],
    [7000112, "AADSTS7000112: Application 'c0c0' is disabled.", /disabled the enterprise application/],
  ])("AADSTS%i is the tenant's dead grant, not the vendor's credentials", (code, description, what) => {
    const error = answered(400, 'unauthorized_client', code, description);
    const failure = classifyTokenError(error, { tenantScoped: true });
    expect(failure.kind).toBe('dead_grant');
    expect(failure.reason).toMatch(what);
    expect(failure.reason).toContain('grant consent again');
    // The reason travels (lease row, other instances): its code is read back from it, and only from such a reason.
    expect(tenantAppRefusalIn(failure.reason)).toBe(code);
    expect(tenantAppRefusalIn(classifyTokenError(answered(400, 'invalid_grant', 70008, 'AADSTS70008: x')).reason)).toBeUndefined();
    // Outside a tenant's refresh (sign-in, On-Behalf-Of) the same code still points at the app registration.
    expect(classifyTokenError(error).kind).toBe('application_credentials');
  });
});
