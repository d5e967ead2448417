import { expiredFilter, retentionCutoff } from '../../src/runs/retention';

describe('retention cutoffs and filters', () => {
  const now = new Date('2030-06-01T12:00:00.000Z');

  test('the cutoff is now minus the retention in whole days, as an ISO 8601 UTC time', () => {
    expect(retentionCutoff(now, 30)).toBe('2030-05-02T12:00:00.000Z');
    expect(retentionCutoff(now, 14)).toBe('2030-05-18T12:00:00.000Z');
    expect(retentionCutoff(now, 400)).toBe('2029-04-27T12:00:00.000Z');
  });

  test('the filter compares each dating property with the cutoff (any of them past it matches)', () => {
    expect(expiredFilter(['at'], '2030-05-18T12:00:00.000Z')).toBe("at lt '2030-05-18T12:00:00.000Z'");
    expect(expiredFilter(['createdAt', 'receivedAt'], '2030-05-02T12:00:00.000Z')).toBe(
      "createdAt lt '2030-05-02T12:00:00.000Z' or receivedAt lt '2030-05-02T12:00:00.000Z'",
    );
  });

  test('a cutoff that is not an ISO 8601 UTC time of toISOString is refused, not pasted into the filter', () => {
    expect(() => expiredFilter(['at'], "2030-05-18' or true or 'a")).toThrow(RangeError);
    expect(() => expiredFilter(['at'], '2030-05-18T12:00:00+02:00')).toThrow(RangeError);
  });

  test('ISO times of toISOString sort as text in time order, which the string comparison relies on', () => {
    const times = [retentionCutoff(now, 400), retentionCutoff(now, 30), retentionCutoff(now, 14), now.toISOString()];
    expect([...times].sort()).toEqual(times);
  });
});
