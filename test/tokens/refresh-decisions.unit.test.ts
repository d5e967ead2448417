import {
  afterRelease,
  cacheSource,
  cachedTokenServes,
  deadRecheckDue,
  isFresh,
  keepUnsavedCache,
  knownDead,
  PENDING_GRACE_MS,
  signedInAgain,
  writeBackDue,
  type FlightView,
  type MemoryView,
  type WriteBackView,
} from '../../src/tokens/refresh-decisions';

// A frozen clock: every decision takes `now`; nothing here waits.
const NOW = Date.parse('2025-06-01T12:00:00Z');
const RENEW_MS = 300_000;
const ME = 'host-a:101:beef';
const token = (expiresInMs: number, cachedAgoMs = 60_000) => ({
  token: 't',
  expiresOn: new Date(NOW + expiresInMs),
  cachedAt: NOW - cachedAgoMs,
});
const flight = (f: Partial<FlightView> = {}): FlightView => ({ startedAt: NOW - 1000, force: false, baselineHash: 'v1', ...f });

describe('isFresh: a cached token serves only beyond the renew margin', () => {
  test.each([
    [RENEW_MS + 1, true],
    [RENEW_MS, false],
    [60_000, false],
    [-1, false],
  ])('expires in %i ms -> %s', (ms, fresh) => {
    expect(isFresh(token(ms), NOW, RENEW_MS)).toBe(fresh);
  });
});

describe('cachedTokenServes', () => {
  test('a plain request takes any fresh token, never a dying one', () => {
    expect(cachedTokenServes(token(3_600_000), flight(), undefined, NOW, RENEW_MS)).toEqual({ decision: true, reason: 'fresh' });
    expect(cachedTokenServes(token(100_000), flight(), undefined, NOW, RENEW_MS).decision).toBe(false);
  });

  test('a claims request never takes a cached token: only the token endpoint can meet the claims', () => {
    const d = cachedTokenServes(token(3_600_000, -5000), flight({ force: true, claims: '{"access_token":{}}' }), 'v2', NOW, RENEW_MS);
    expect(d.decision).toBe(false);
    expect(d.reason).toMatch(/claims/);
  });

  test('a forced refresh takes a token from a stored version written after it began', () => {
    expect(cachedTokenServes(token(3_600_000), flight({ force: true }), 'v2', NOW, RENEW_MS).decision).toBe(true);
    // Same stored version as when the flight began: it may be the very token the caller wants replaced.
    expect(cachedTokenServes(token(3_600_000), flight({ force: true }), 'v1', NOW, RENEW_MS).decision).toBe(false);
    // From memory (no stored version): only the issue time can prove it is newer.
    expect(cachedTokenServes(token(3_600_000), flight({ force: true }), undefined, NOW, RENEW_MS).decision).toBe(false);
  });

  test('a forced refresh takes a token certainly issued after it began (MSAL rounds cached_at to the second)', () => {
    const f = flight({ force: true, startedAt: NOW - 10_000 });
    expect(cachedTokenServes(token(3_600_000, 9_500), f, undefined, NOW, RENEW_MS).decision).toBe(true);
    expect(cachedTokenServes(token(3_600_000, 9_600), f, undefined, NOW, RENEW_MS).decision).toBe(false);
  });
});

describe('knownDead: the one "is the grant known dead" rule', () => {
  test('dead when the row records one of the given versions as dead', () => {
    expect(knownDead({ deadHash: 'v1' }, 'v1')).toBe(true);
    expect(knownDead({ deadHash: 'v1' }, 'v2', 'v1')).toBe(true);
  });
  test('not dead for another version, an empty record or no row', () => {
    expect(knownDead({ deadHash: 'v1' }, 'v2')).toBe(false);
    expect(knownDead({ deadHash: '' }, '')).toBe(false);
    expect(knownDead(undefined, 'v1')).toBe(false);
  });
});

describe('signedInAgain: when a connection found dead lives again', () => {
  test('a different stored version that is not itself dead', () => {
    expect(signedInAgain({ cacheHash: 'v2', deadHash: 'v1' }, 'v1').decision).toBe(true);
    expect(signedInAgain({ cacheHash: 'v2', deadHash: '' }, 'v1').decision).toBe(true);
  });
  test('not while the row names the dead version, the new version is dead too, or there is no row', () => {
    expect(signedInAgain({ cacheHash: 'v1', deadHash: 'v1' }, 'v1').decision).toBe(false);
    expect(signedInAgain({ cacheHash: 'v2', deadHash: 'v2' }, 'v1').decision).toBe(false);
    expect(signedInAgain(undefined, 'v1').decision).toBe(false);
  });
  test('rechecked at most once per interval', () => {
    expect(deadRecheckDue(NOW - 29_999, NOW, 30_000)).toBe(false);
    expect(deadRecheckDue(NOW - 30_000, NOW, 30_000)).toBe(true);
  });
});

describe('cacheSource: memory or vault, under the lease', () => {
  const row = (r: Partial<{ cacheHash: string; pendingBy: string; pendingSince: number }> = {}) => ({
    cacheHash: 'v1',
    pendingBy: '',
    pendingSince: 0,
    ...r,
  });
  const synced: MemoryView = { cacheHash: 'v1', syncedHash: 'v1', pendingWrite: false };

  test('memory when the row names the version this instance last synced and the last holder released cleanly', () => {
    expect(cacheSource(row(), false, synced, ME, NOW).decision).toBe('memory');
  });

  test('vault after a takeover, another writer, a first refresh or an empty memory', () => {
    expect(cacheSource(row(), true, synced, ME, NOW)).toEqual({ decision: 'vault', reason: expect.stringMatching(/takeover/) });
    expect(cacheSource(row({ cacheHash: 'v2' }), false, synced, ME, NOW).decision).toBe('vault');
    expect(cacheSource(undefined, false, synced, ME, NOW).decision).toBe('vault');
    expect(cacheSource(row(), false, { cacheHash: undefined, syncedHash: 'v1', pendingWrite: false }, ME, NOW).decision).toBe('vault');
  });

  test('wait while another instance holds the only copy of a rotated refresh token, within the grace period', () => {
    const pending = row({ cacheHash: 'v9', pendingBy: 'host-b:7:cafe', pendingSince: NOW - PENDING_GRACE_MS + 1 });
    expect(cacheSource(pending, false, synced, ME, NOW).decision).toBe('wait');
    // After the grace period the vault's copy is used again (that instance is presumed gone).
    expect(cacheSource({ ...pending, pendingSince: NOW - PENDING_GRACE_MS }, false, synced, ME, NOW).decision).toBe('vault');
  });

  test('our own unsaved rotated cache is the newest, even after a takeover', () => {
    const mine = row({ cacheHash: 'v2', pendingBy: ME, pendingSince: NOW - 5000 });
    expect(cacheSource(mine, true, { cacheHash: 'v2', syncedHash: 'v1', pendingWrite: true }, ME, NOW).decision).toBe('memory');
    // Memory moved on since (a different cache than the row names): the vault decides.
    expect(cacheSource(mine, false, { cacheHash: 'v3', syncedHash: 'v1', pendingWrite: true }, ME, NOW).decision).toBe('vault');
  });
});

describe('afterRelease: a waiter whose holder let go', () => {
  const released = (r: Partial<{ cacheHash: string; deadHash: string; pendingBy: string }> = {}) => ({
    cacheHash: 'v2',
    deadHash: '',
    pendingBy: '',
    ...r,
  });
  const memory = { syncedHash: 'v1', pendingWrite: false };

  test('reads the vault once when the holder stored a version this instance has not seen', () => {
    expect(afterRelease(released(), memory).decision).toBe('read_vault');
  });
  test('fails without a token call when the holder found the stored grant dead', () => {
    expect(afterRelease(released({ deadHash: 'v2' }), memory).decision).toBe('fail_dead');
  });
  test('takes the lease when nothing new is in the vault', () => {
    expect(afterRelease(released({ cacheHash: 'v1' }), memory).decision).toBe('try_lease');
    expect(afterRelease(released({ cacheHash: '' }), memory).decision).toBe('try_lease');
    expect(afterRelease(released({ pendingBy: 'host-b:7:cafe' }), memory).decision).toBe('try_lease');
    expect(afterRelease(released(), { syncedHash: 'v1', pendingWrite: true }).decision).toBe('try_lease');
  });
});

describe('writeBackDue: only a changed refresh token is written, per policy', () => {
  const view = (v: Partial<WriteBackView> = {}): WriteBackView => ({
    policy: 'interval',
    writeIntervalMs: 3_600_000,
    storedRefreshTokenHash: 'rt1',
    refreshedRefreshTokenHash: 'rt2',
    lastWrittenAt: NOW - 60_000,
    now: NOW,
    ...v,
  });

  test('a new access token alone is never written', () => {
    expect(writeBackDue(view({ policy: 'always', refreshedRefreshTokenHash: 'rt1' })).decision).toBe(false);
  });
  test("'always' writes every rotation", () => {
    expect(writeBackDue(view({ policy: 'always' })).decision).toBe(true);
  });
  test("'interval' writes at most once per interval, tracked on the row", () => {
    expect(writeBackDue(view()).decision).toBe(false);
    expect(writeBackDue(view({ lastWrittenAt: NOW - 3_600_000 })).decision).toBe(true);
    expect(writeBackDue(view({ lastWrittenAt: 0 })).decision).toBe(true);
    expect(writeBackDue(view({ lastWrittenAt: undefined })).decision).toBe(true);
  });
  test("'interval' writes at once when the vault's copy has no refresh token", () => {
    expect(writeBackDue(view({ storedRefreshTokenHash: '' })).decision).toBe(true);
  });
});

describe('keepUnsavedCache: after the vault refused the write', () => {
  test("kept and retried under 'always' or when the vault has no refresh token", () => {
    expect(keepUnsavedCache('always', 'rt1').decision).toBe(true);
    expect(keepUnsavedCache('interval', '').decision).toBe(true);
  });
  test("dropped under 'interval': the stored refresh token stays valid at Entra", () => {
    expect(keepUnsavedCache('interval', 'rt1').decision).toBe(false);
    expect(keepUnsavedCache('interval', undefined).decision).toBe(false);
  });
});
