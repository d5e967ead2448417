import type { TableClient } from '@azure/data-tables';
import { getEntityOrUndefined, isConcurrencyConflict, statusOf } from '../adapters/tables';
import { backoffDelay, sleep, type BackoffPolicy } from '../shared/backoff';
import { EMPTY_LEASE, entityOf, rowOf, type LeaseEntity, type LeaseRow, type LeaseState } from './lease-row';

export { EMPTY_LEASE, type LeaseRow, type LeaseState } from './lease-row';

/*
 * The cross-instance refresh lease: one row per connection (lease-row.ts), taken with an ETag-conditional write.
 * Whoever holds it may use the connection's refresh token and write its cache to the vault; others wait.
 */

/**
 * A lease this instance holds: it records what the row should say once the work is done (`record`) and writes that
 * when it lets go (`release`), so every vault write made under it is on the row before anyone else can take it.
 */
export class HeldLease {
  private readonly changes: Partial<LeaseState> = {};

  constructor(
    private readonly leases: RefreshLeases,
    readonly tenantId: string,
    readonly connectionId: string,
    readonly holder: string,
    public etag: string,
    public state: LeaseState,
  ) {}

  /** Adds to what the row will say on release (later values win). */
  record(changes: Partial<LeaseState>): void {
    Object.assign(this.changes, changes);
  }

  /** What has been recorded so far. */
  get recorded(): Readonly<Partial<LeaseState>> {
    return this.changes;
  }

  /** Extends the lease when less than `minRemainingMs` is left; throws LeaseLostError when someone took it over. */
  ensureRemaining(minRemainingMs: number): Promise<void> {
    return this.leases.ensureRemaining(this, minRemainingMs);
  }

  /**
   * Frees the lease with what was recorded. Never throws: the row as written (a hint for the next acquire), or
   * undefined when it was lost or the write failed (the row then stays held until it expires, and the next holder
   * treats the vault as unknown).
   */
  async release(): Promise<LeaseRow | undefined> {
    return this.leases.release(this, this.changes).catch(() => undefined);
  }
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
    return rowOf(e);
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
          ? (await client.updateEntity(entityOf(tenantId, connectionId, state), 'Replace', { etag: row.etag })).etag
          : (await client.createEntity(entityOf(tenantId, connectionId, state))).etag;
        if (!etag) throw new Error('Table service returned no ETag for the lease row');
        const lease = new HeldLease(this, tenantId, connectionId, holder, etag, state);
        return { acquired: true, lease, prior: row, takeover: row !== undefined && row.holder !== '' };
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

  /**
   * Takes the lease, waiting while another holder has it: polls the row (jittered backoff) instead of competing, and
   * tries again once it is released or taken over. `onReleased` sees each row a holder released, where its outcome is
   * recorded: a value ends the wait with that value (the caller can use what the holder stored); undefined takes the
   * lease. `onFirstLook` sees the first row read (undefined: no row yet). Throws LeaseBusyError once a crashed holder's
   * lease would have run out (leaseMs plus slack): waiting longer means something else is wrong.
   */
  async acquireOrWait<T = never>(
    tenantId: string,
    connectionId: string,
    options: {
      hint?: LeaseRow;
      onFirstLook?: (row: LeaseRow | undefined) => void;
      onReleased?: (row: LeaseRow) => Promise<T | undefined>;
    } = {},
  ): Promise<{ acquired: true; lease: HeldLease; prior: LeaseRow | undefined; takeover: boolean } | { acquired: false; settled: T }> {
    const deadline = this.options.now() + this.options.leaseMs + WAIT_SLACK_MS;
    let firstLook = options.onFirstLook;
    let hint = options.hint;
    let attempt = 1;
    for (;;) {
      if (this.options.now() > deadline) throw new LeaseBusyError();
      const got = await this.tryAcquire(tenantId, connectionId, hint);
      hint = undefined;
      firstLook?.(got.acquired ? got.prior : got.row);
      firstLook = undefined;
      if (got.acquired) return got;

      let row = got.row;
      const holder = row.holder;
      let waited = false;
      while (row.holder === holder && this.isHeld(row)) {
        if (this.options.now() > deadline) throw new LeaseBusyError();
        waited = true;
        await sleep(backoffDelay(attempt++, POLL_BACKOFF));
        row = (await this.read(tenantId, connectionId)) ?? FREE_ROW;
      }
      if (row.etag) hint = row;
      if (row.holder !== '') continue; // taken over by someone else, or expired: go through the lease again
      const settled = await options.onReleased?.(row);
      if (settled !== undefined) return { acquired: false, settled };
      // Lost every race for a free row (tryAcquire gives up after a few): back off rather than spin on the table.
      if (!waited) await sleep(backoffDelay(attempt, POLL_BACKOFF));
    }
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
      const { etag } = await (
        await this.table()
      ).updateEntity(entityOf(lease.tenantId, lease.connectionId, state), 'Replace', {
        etag: lease.etag,
      });
      if (!etag) throw new Error('Table service returned no ETag for the lease row');
      return etag;
    } catch (e) {
      if (isConcurrencyConflict(e) || statusOf(e) === 404) throw new LeaseLostError();
      throw e;
    }
  }
}

/** Polling a held row: 20 ms doubling to 250 ms, jittered. */
const POLL_BACKOFF: BackoffPolicy = { baseMs: 20, maxMs: 250 };
const WAIT_SLACK_MS = 2000;
const FREE_ROW: LeaseRow = { ...EMPTY_LEASE, etag: '' };

/** Waited for the lease as long as a crashed holder could keep it, and someone still holds it. */
export class LeaseBusyError extends Error {
  override readonly name = 'LeaseBusyError';
  constructor() {
    super('Another instance still holds the refresh lease');
  }
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor() {
    super('The refresh lease was taken over by another instance');
  }
}
