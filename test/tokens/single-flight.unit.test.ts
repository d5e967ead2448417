import { SingleFlight } from '../../src/tokens/single-flight';
import { isDeadGrant, TokenAcquisitionError } from '../../src/tokens/token-errors';

/** A promise the test settles by hand: no timers. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('SingleFlight', () => {
  test('concurrent plain requests share one call', async () => {
    const flights = new SingleFlight<string>();
    const d = deferred<string>();
    let calls = 0;
    const start = () => (calls++, d.promise);
    const all = Promise.all(Array.from({ length: 50 }, () => flights.run('c1', { force: false }, start)));
    d.resolve('token');
    expect(await all).toEqual(Array(50).fill('token'));
    expect(calls).toBe(1);
  });

  test('a forced request queues behind a plain flight instead of joining it; later ones join the forced one', async () => {
    const flights = new SingleFlight<string>();
    const plain = deferred<string>();
    const forced = deferred<string>();
    const order: string[] = [];
    const first = flights.run('c1', { force: false }, () => (order.push('plain'), plain.promise));
    const second = flights.run('c1', { force: true }, () => (order.push('forced'), forced.promise));
    const third = flights.run('c1', { force: false }, () => (order.push('extra'), Promise.resolve('x')));
    await Promise.resolve();
    expect(order).toEqual(['plain']); // the forced call waits for the running one
    plain.resolve('old');
    await first;
    forced.resolve('new');
    expect(await second).toBe('new');
    expect(await third).toBe('new');
    expect(order).toEqual(['plain', 'forced']);
  });

  test('a claims request joins only a flight with the same claims', async () => {
    const flights = new SingleFlight<string>();
    let calls = 0;
    const start = (v: string) => () => (calls++, Promise.resolve(v));
    const a = flights.run('c1', { force: true, claims: 'A' }, start('a'));
    const a2 = flights.run('c1', { force: true, claims: 'A' }, start('a2'));
    const b = flights.run('c1', { force: true, claims: 'B' }, start('b'));
    expect([await a, await a2, await b]).toEqual(['a', 'a', 'b']);
    expect(calls).toBe(2);
  });

  test('connections do not share flights, and a failed flight is not remembered', async () => {
    const flights = new SingleFlight<string>();
    await expect(flights.run('c1', { force: false }, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await flights.run('c1', { force: false }, () => Promise.resolve('ok'))).toBe('ok');
    expect(await flights.run('c2', { force: false }, () => Promise.resolve('other'))).toBe('other');
  });
});

describe('isDeadGrant', () => {
  test('true only for a broker failure that needs a new sign-in', () => {
    expect(isDeadGrant(new TokenAcquisitionError({ kind: 'dead_grant', reason: 'r' }))).toBe(true);
    expect(isDeadGrant(new TokenAcquisitionError({ kind: 'transient', reason: 'r' }))).toBe(false);
    expect(isDeadGrant(new TokenAcquisitionError({ kind: 'application_credentials', reason: 'r' }))).toBe(false);
    expect(isDeadGrant(Object.assign(new Error('invalid_grant'), { errorCode: 'invalid_grant' }))).toBe(false);
  });
});
