import { HttpError } from '../../../src/local/http-helpers';
import { parseTokenEndpointFault, TokenEndpointFaults } from '../../../src/local/identity-provider/token-endpoint-faults';

const refusal = (value: unknown): string => {
  try {
    parseTokenEndpointFault(value);
  } catch (e) {
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).status).toBe(400);
    return (e as HttpError).message;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
};

const SHAPES = "tokenEndpoint must be null, 'down', {status: 400-599, count?, retryAfterSeconds?} or {aadsts, count?}";

describe('POST /local/faults body (tokenEndpoint)', () => {
  test('null or absent clears; down resets connections', () => {
    expect(parseTokenEndpointFault(null)).toBeNull();
    expect(parseTokenEndpointFault(undefined)).toBeNull();
    expect(parseTokenEndpointFault('down')).toBe('down');
  });

  test('a status fault keeps only what it names', () => {
    expect(parseTokenEndpointFault({ status: 503, count: 2, retryAfterSeconds: 0, extra: true })).toEqual({
      status: 503,
      count: 2,
      retryAfterSeconds: 0,
    });
    expect(parseTokenEndpointFault({ status: 400 })).toEqual({ status: 400 });
  });

  test('an Entra error fault names a code the provider can answer with', () => {
    expect(parseTokenEndpointFault({ aadsts: 7000222, count: 1 })).toEqual({ aadsts: 7000222, count: 1 });
    expect(refusal({ aadsts: 12345 })).toMatch(/^aadsts must be one of .*7000222/);
    expect(refusal({ aadsts: '7000222' })).toMatch(/^aadsts must be one of/);
    expect(refusal({ aadsts: 7000222, count: 0 })).toBe('count must be a positive integer');
  });

  test('each wrong field is named; a missing or out-of-range status gets the accepted shapes', () => {
    expect(refusal({ status: 503, count: 1.5 })).toBe('count must be a positive integer');
    expect(refusal({ status: 503, count: '2' })).toBe('count must be a positive integer');
    expect(refusal({ status: 503, retryAfterSeconds: -1 })).toBe('retryAfterSeconds must be a non-negative integer');
    expect(refusal({ status: 200 })).toBe(SHAPES);
    expect(refusal({ status: 600, count: 0 })).toBe(SHAPES);
    expect(refusal({})).toBe(SHAPES);
    expect(refusal('up')).toBe(SHAPES);
    expect(refusal([{ status: 503 }])).toBe(SHAPES);
  });
});

describe('TokenEndpointFaults', () => {
  test('a fault with a count answers that many requests, then none', () => {
    const faults = new TokenEndpointFaults();
    faults.set({ status: 503, count: 2 });
    expect(faults.take()).toMatchObject({ status: 503 });
    expect(faults.take()).toMatchObject({ status: 503 });
    expect(faults.take()).toBeNull();
  });

  test('a fault without a count, and down, stay until cleared', () => {
    const faults = new TokenEndpointFaults();
    faults.set('down');
    expect([faults.take(), faults.take()]).toEqual(['down', 'down']);
    faults.set({ aadsts: 50173 });
    expect([faults.take(), faults.take()]).toEqual([{ aadsts: 50173 }, { aadsts: 50173 }]);
    faults.set(null);
    expect(faults.take()).toBeNull();
  });
});
