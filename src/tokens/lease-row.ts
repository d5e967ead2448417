/**
 * One row per connection in the `tokenLeases` table (partition = tenant, row = connection id). It is
 * both the cross-instance refresh lock and the bookkeeping that lets an instance trust its in-memory
 * copy of the token cache. It never holds token material: only ids, times and hashes of the serialized
 * cache (which version it is; see serialized-cache.ts).
 */
export interface LeaseState {
  /** `<instance>/<nonce>` of the current holder; '' when free. A nonce per lease, so two flows of one instance never share it. */
  holder: string;
  /** Epoch ms after which a holder that never released is presumed dead. */
  leaseUntil: number;
  /** Hash of the newest cache: what the vault holds, unless `pendingBy` says it is only in that instance's memory. */
  cacheHash: string;
  /** Epoch ms of the last vault write by a broker (0 = unknown). Drives the 'interval' write policy across instances. */
  lastWrittenAt: number;
  lastWrittenBy: string;
  /** Instance holding a rotated cache it could not write (vault failure), so the vault's refresh token is stale. */
  pendingBy: string;
  pendingSince: number;
  /** Hash of a cache whose grant proved dead, and why: other instances then fail without a token call. */
  deadHash: string;
  deadReason: string;
}

export interface LeaseRow extends LeaseState {
  etag: string;
}

/** A lease row nobody holds and that records nothing yet. */
export const EMPTY_LEASE: LeaseState = {
  holder: '',
  leaseUntil: 0,
  cacheHash: '',
  lastWrittenAt: 0,
  lastWrittenBy: '',
  pendingBy: '',
  pendingSince: 0,
  deadHash: '',
  deadReason: '',
};

/** Times are stored as ISO strings so an operator reading the table sees dates, not numbers. */
export interface LeaseEntity {
  holder: string;
  leaseUntil: string;
  cacheHash: string;
  lastWrittenAt: string;
  lastWrittenBy: string;
  pendingBy: string;
  pendingSince: string;
  deadHash: string;
  deadReason: string;
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : '');
const ms = (s: unknown) => (typeof s === 'string' && s ? Date.parse(s) || 0 : 0);
const str = (s: unknown) => (typeof s === 'string' ? s : '');

export function rowOf(e: Partial<Record<keyof LeaseEntity, unknown>> & { etag: string }): LeaseRow {
  return {
    holder: str(e.holder),
    leaseUntil: ms(e.leaseUntil),
    cacheHash: str(e.cacheHash),
    lastWrittenAt: ms(e.lastWrittenAt),
    lastWrittenBy: str(e.lastWrittenBy),
    pendingBy: str(e.pendingBy),
    pendingSince: ms(e.pendingSince),
    deadHash: str(e.deadHash),
    deadReason: str(e.deadReason),
    etag: e.etag,
  };
}

export function entityOf(partitionKey: string, rowKey: string, s: LeaseState) {
  return {
    partitionKey,
    rowKey,
    holder: s.holder,
    leaseUntil: iso(s.leaseUntil),
    cacheHash: s.cacheHash,
    lastWrittenAt: iso(s.lastWrittenAt),
    lastWrittenBy: s.lastWrittenBy,
    pendingBy: s.pendingBy,
    pendingSince: iso(s.pendingSince),
    deadHash: s.deadHash,
    deadReason: s.deadReason,
  } satisfies LeaseEntity & { partitionKey: string; rowKey: string };
}
