import type { TableClient } from '@azure/data-tables';
import { getEntityOrUndefined, isConcurrencyConflict, statusOf } from '../adapters/tables';

/**
 * One row per connection in the `tokenLeases` table (partition = tenant, row = connection id). It is
 * both the cross-instance refresh lock and the bookkeeping that lets an instance trust its in-memory
 * copy of the token cache. It never holds token material: only ids, times and a SHA-256 of the
 * serialized cache (a one-way digest of high-entropy data, used to tell versions apart).
 */
export interface LeaseState {
  /** `<instance>/<nonce>` of the current holder; '' when free. A nonce per lease, so two flows of one instance never share it. */
  holder: string;
  /** Epoch ms after which a holder that never released is presumed dead. */
  leaseUntil: number;
  /** Digest of the newest cache: what the vault holds, unless `pendingBy` says it is only in that instance's memory. */
  cacheHash: string;
  /** Epoch ms of the last vault write by a broker (0 = unknown). Drives the 'interval' write policy across instances. */
  lastWrittenAt: number;
  lastWrittenBy: string;
  /** Instance holding a rotated cache it could not write (vault failure), so the vault's refresh token is stale. */
  pendingBy: string;
  pendingSince: number;
  /** Digest of a cache whose grant proved dead, and why: other instances then fail without a token call. */
  deadHash: string;
  deadReason: string;
}

export interface LeaseRow extends LeaseState {
  etag: string;
}

export interface HeldLease {
  readonly tenantId: string;
  readonly connectionId: string;
  readonly holder: string;
  etag: string;
  state: LeaseState;
}

export type AcquireResult =
  | {
      acquired: true;
      lease: HeldLease;
      /** The row as it was before we took it; undefined when we created it. */
      prior: LeaseRow | undefined;
      /** The previous holder never released (crashed or too slow): the vault may hold a cache the row does not know. */
      takeover: boolean;
    }
  | { acquired: false; row: LeaseRow };

export interface RefreshLeaseOptions {
  leaseMs: number;
  instanceId: string;
  now: () => number;
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
interface LeaseEntity {
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

export class RefreshLeases {
  private nonce = 0;

  constructor(
    private readonly table: () => Promise<TableClient>,
    private readonly options: RefreshLeaseOptions,
  ) {}

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  async read(tenantId: string, connectionId: string): Promise<LeaseRow | undefined> {
    const e = await getEntityOrUndefined<LeaseEntity>(await this.table(), tenantId, connectionId);
    if (!e) return undefined;
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

  /** True while someone holds the row's lease and it has not run out. */
  isHeld(row: LeaseState): boolean {
    return row.holder !== '' && row.leaseUntil > this.options.now();
  }

  /**
   * Takes the lease with a conditional write: create (409 = someone created it first) or update with
   * the row's ETag (412 = someone changed it first). `hint` is the row as this instance last left it;
   * when nobody touched it since, one request suffices.
   */
  async tryAcquire(tenantId: string, connectionId: string, hint?: LeaseRow): Promise<AcquireResult> {
    const client = await this.table();
    const holder = `${this.options.instanceId}/${++this.nonce}`;
    let row = hint;
    for (let attempt = 0; attempt < 4; attempt++) {
      row ??= await this.read(tenantId, connectionId);
      const state: LeaseState = { ...(row ?? EMPTY_LEASE), holder, leaseUntil: this.options.now() + this.options.leaseMs };
      if (row && this.isHeld(row)) return { acquired: false, row };
      try {
        const etag = row
          ? (await client.updateEntity(this.entity(tenantId, connectionId, state), 'Replace', { etag: row.etag })).etag
          : (await client.createEntity(this.entity(tenantId, connectionId, state))).etag;
        if (!etag) throw new Error('Table service returned no ETag for the lease row');
        return { acquired: true, lease: { tenantId, connectionId, holder, etag, state }, prior: row, takeover: row !== undefined && row.holder !== '' };
      } catch (e) {
        // 404: deleted since we read it. Either way, read again and decide again.
        if (!isConcurrencyConflict(e) && statusOf(e) !== 404) throw e;
        row = undefined;
      }
    }
    // Four lost races in a row: someone is busy with this row; report it as held.
    const latest = await this.read(tenantId, connectionId);
    return { acquired: false, row: latest ?? { ...EMPTY_LEASE, holder: '?', leaseUntil: this.options.now() + 100, etag: '' } };
  }

  /** Deletes the row (connection deleted); a missing row is fine. */
  async remove(tenantId: string, connectionId: string): Promise<void> {
    try {
      await (await this.table()).deleteEntity(tenantId, connectionId, { etag: '*' });
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
  }

  /** Extends the lease when less than `minRemainingMs` is left; throws LeaseLostError when someone took it over. */
  async ensureRemaining(lease: HeldLease, minRemainingMs: number): Promise<void> {
    if (lease.state.leaseUntil - this.options.now() >= minRemainingMs) return;
    const state = { ...lease.state, leaseUntil: this.options.now() + this.options.leaseMs };
    lease.etag = await this.write(lease, state);
    lease.state = state;
  }

  /**
   * Frees the lease, recording `changes`. Returns the row as written (a hint for the next acquire), or
   * undefined when the lease was lost meanwhile (the row then belongs to whoever took it).
   */
  async release(lease: HeldLease, changes: Partial<LeaseState> = {}): Promise<LeaseRow | undefined> {
    const state: LeaseState = { ...lease.state, ...changes, holder: '', leaseUntil: 0 };
    try {
      return { ...state, etag: await this.write(lease, state) };
    } catch (e) {
      if (e instanceof LeaseLostError) return undefined;
      throw e;
    }
  }

  private async write(lease: HeldLease, state: LeaseState): Promise<string> {
    try {
      const { etag } = await (await this.table()).updateEntity(this.entity(lease.tenantId, lease.connectionId, state), 'Replace', {
        etag: lease.etag,
      });
      if (!etag) throw new Error('Table service returned no ETag for the lease row');
      return etag;
    } catch (e) {
      if (isConcurrencyConflict(e) || statusOf(e) === 404) throw new LeaseLostError();
      throw e;
    }
  }

  private entity(partitionKey: string, rowKey: string, s: LeaseState) {
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
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor() {
    super('The refresh lease was taken over by another instance');
  }
}
