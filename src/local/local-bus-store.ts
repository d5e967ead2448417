/**
 * LOCAL ONLY. Where the local bus (local-service-bus.ts) keeps its messages so that they outlive the process: a table in
 * Azurite, which `npm start` keeps on disk. In Azure, Service Bus itself keeps accepted messages, their delivery count
 * and their lock; a local instance that loses them on a crash would hide exactly the failures the app must survive.
 *
 * One partition per queue. Rows:
 * - `m-<key>`: a message the queue holds (active, scheduled, locked, or dead-lettered), with its delivery count and lock;
 * - `d-<sha256(messageId)>`: a duplicate-detection entry, kept until its window ends, since Service Bus's duplicate
 *   detection is the broker's and does not reset when a receiver restarts.
 * A send writes its message and duplicate rows in one entity-group transaction per 100 rows (the Tables limit), so a
 * send is all-or-nothing as a Service Bus batch is, as long as it fits one transaction.
 *
 * Tables limits (learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model): a string
 * property holds at most 64 KiB (32 K UTF-16 characters), an entity 1 MiB, a transaction 100 entities and 4 MiB. A
 * message body (up to 256 KB) is therefore split across several properties.
 *
 * Every string property the caller chose is ASCII (the body base64 of its UTF-8, ids as hex of their UTF-16 code
 * units): Azurite 3.35 answers an entity-group transaction holding U+2028 in a property with "An error occurred while
 * processing this request" (found by test/security/event-intake-attacks.test.ts, whose event ids carry it).
 */
import { TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { createHash } from 'node:crypto';
import { statusOf } from '../adapters/tables';

export interface PersistedDeadLetter {
  reason: string;
  description: string;
  deadLetteredAt: string;
}

/** A message as the store keeps it: what a restart needs to deliver it again as Service Bus would. */
export interface PersistedMessage {
  /** Unique per message within its queue, fixed at send (a message id may be sent again after the duplicate window). */
  key: string;
  queue: string;
  messageId: string;
  sessionId?: string;
  /** JSON text: each delivery parses a fresh copy, so neither the sender nor a failed handler can alter it. */
  json: string;
  applicationProperties: Record<string, string | number | boolean>;
  /** Deliveries so far, the one in progress included: a crash mid-delivery still counts it, as an expired lock does. */
  deliveryCount: number;
  /** Assigned when the message became available (undefined while it is scheduled). */
  sequenceNumber?: number;
  enqueuedTimeUtc?: string;
  /** Epoch ms; the message is not available before. */
  scheduledEnqueueTime?: number;
  /** Epoch ms until which a delivery holds the message (and its session); renewed while the handler runs. */
  lockedUntil?: number;
  deadLetter?: PersistedDeadLetter;
}

export interface PersistedDuplicate {
  queue: string;
  messageId: string;
  /** Epoch ms at which the id leaves the duplicate detection window. */
  until: number;
}

export interface LocalBusStore {
  load(): Promise<{ messages: PersistedMessage[]; duplicates: PersistedDuplicate[] }>;
  /** A send: the accepted messages and their duplicate-detection entries, durable once this resolves. */
  accept(queue: string, messages: readonly PersistedMessage[], duplicates: readonly PersistedDuplicate[]): Promise<void>;
  /** Delivery count, lock, sequence number or dead-lettering changed. */
  update(message: PersistedMessage): Promise<void>;
  /** Completed: the message is gone. */
  remove(message: Pick<PersistedMessage, 'queue' | 'key'>): Promise<void>;
  /** Duplicate-detection entries whose window ended. */
  forgetDuplicates(queue: string, messageIds: readonly string[]): Promise<void>;
}

/** Characters per body property: under the 32 K UTF-16 characters a 64 KiB string property holds. */
const CHUNK_CHARS = 32_000;
const MAX_TRANSACTION_ROWS = 100;
/** Under the 4 MiB transaction payload (UTF-16 estimate: two bytes per character, plus room for the rest). */
const MAX_TRANSACTION_CHARS = 1_500_000;

const messageRow = (key: string) => `m-${key}`;
const duplicateRow = (messageId: string) => `d-${createHash('sha256').update(messageId).digest('hex')}`;

type Row = TableEntity<Record<string, unknown>>;

/** Four hex digits per UTF-16 code unit: ASCII, lossless for any string (a lone surrogate included). */
const encodeId = (id: string) => Array.from({ length: id.length }, (_, i) => id.charCodeAt(i).toString(16).padStart(4, '0')).join('');
const decodeId = (v: unknown) => String.fromCharCode(...(String(v).match(/.{4}/g) ?? []).map((h) => parseInt(h, 16)));

function toEntity(m: PersistedMessage): Row {
  const data = Buffer.from(JSON.stringify({ json: m.json, applicationProperties: m.applicationProperties })).toString('base64');
  const chunks: Record<string, string> = {};
  for (let i = 0, n = 0; i < data.length || n === 0; i += CHUNK_CHARS, n++) chunks[`data${n}`] = data.slice(i, i + CHUNK_CHARS);
  return {
    partitionKey: m.queue,
    rowKey: messageRow(m.key),
    kind: 'message',
    key: m.key,
    messageId: encodeId(m.messageId),
    ...(m.sessionId !== undefined ? { sessionId: encodeId(m.sessionId) } : {}),
    chunks: Object.keys(chunks).length,
    ...chunks,
    deliveryCount: m.deliveryCount,
    ...(m.sequenceNumber !== undefined ? { sequenceNumber: m.sequenceNumber, enqueuedTimeUtc: m.enqueuedTimeUtc } : {}),
    ...(m.scheduledEnqueueTime !== undefined ? { scheduledEnqueueTime: m.scheduledEnqueueTime } : {}),
    ...(m.lockedUntil !== undefined ? { lockedUntil: m.lockedUntil } : {}),
    ...(m.deadLetter ? { deadLetterJson: Buffer.from(JSON.stringify(m.deadLetter)).toString('base64') } : {}),
  };
}

const numberOf = (v: unknown): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : undefined;

function fromEntity(e: Row): PersistedMessage {
  const chunks = numberOf(e.chunks) ?? 0;
  let data = '';
  for (let n = 0; n < chunks; n++) data += String(e[`data${n}`] ?? '');
  const { json, applicationProperties } = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as Pick<
    PersistedMessage,
    'json' | 'applicationProperties'
  >;
  const sequenceNumber = numberOf(e.sequenceNumber);
  const scheduledEnqueueTime = numberOf(e.scheduledEnqueueTime);
  const lockedUntil = numberOf(e.lockedUntil);
  return {
    key: String(e.key),
    queue: e.partitionKey,
    messageId: decodeId(e.messageId),
    ...(typeof e.sessionId === 'string' ? { sessionId: decodeId(e.sessionId) } : {}),
    json,
    applicationProperties,
    deliveryCount: numberOf(e.deliveryCount) ?? 0,
    ...(sequenceNumber !== undefined ? { sequenceNumber, enqueuedTimeUtc: String(e.enqueuedTimeUtc) } : {}),
    ...(scheduledEnqueueTime !== undefined ? { scheduledEnqueueTime } : {}),
    ...(lockedUntil !== undefined ? { lockedUntil } : {}),
    ...(typeof e.deadLetterJson === 'string'
      ? { deadLetter: JSON.parse(Buffer.from(e.deadLetterJson, 'base64').toString('utf8')) as PersistedDeadLetter }
      : {}),
  };
}

/** Splits a send's rows into transactions within the Tables limits (rows and payload). */
function batches(rows: readonly Row[]): Row[][] {
  const out: Row[][] = [];
  let current: Row[] = [];
  let chars = 0;
  for (const row of rows) {
    const size = JSON.stringify(row).length;
    if (current.length > 0 && (current.length >= MAX_TRANSACTION_ROWS || chars + size > MAX_TRANSACTION_CHARS)) {
      out.push(current);
      current = [];
      chars = 0;
    }
    current.push(row);
    chars += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The store in a table of Azurite (or any Table endpoint the connection string names). */
export async function createTableBusStore(connectionString: string, tableName: string): Promise<LocalBusStore> {
  const client = TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true });
  try {
    await client.createTable();
  } catch (e) {
    if (statusOf(e) !== 409) throw e;
  }
  return {
    async load() {
      const messages: PersistedMessage[] = [];
      const duplicates: PersistedDuplicate[] = [];
      for await (const e of client.listEntities<Record<string, unknown>>()) {
        if (e.kind === 'message') messages.push(fromEntity(e as Row));
        else if (e.kind === 'duplicate')
          duplicates.push({ queue: e.partitionKey!, messageId: decodeId(e.messageId), until: numberOf(e.until) ?? 0 });
      }
      return { messages, duplicates };
    },

    async accept(queue, messages, duplicates) {
      const rows: Row[] = [
        ...duplicates.map((d) => ({
          partitionKey: queue,
          rowKey: duplicateRow(d.messageId),
          kind: 'duplicate',
          messageId: encodeId(d.messageId),
          until: d.until,
        })),
        ...messages.map(toEntity),
      ];
      for (const batch of batches(rows)) {
        // An expired duplicate entry of the same id may still be there: replaced. Message keys are new: created.
        const actions: TransactionAction[] = batch.map((row) => (row.kind === 'duplicate' ? ['upsert', row, 'Replace'] : ['create', row]));
        await client.submitTransaction(actions);
      }
    },

    async update(message) {
      await client.upsertEntity(toEntity(message), 'Replace');
    },

    async remove({ queue, key }) {
      try {
        await client.deleteEntity(queue, messageRow(key));
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
    },

    async forgetDuplicates(queue, messageIds) {
      for (let i = 0; i < messageIds.length; i += MAX_TRANSACTION_ROWS) {
        const actions: TransactionAction[] = messageIds
          .slice(i, i + MAX_TRANSACTION_ROWS)
          .map((id) => ['delete', { partitionKey: queue, rowKey: duplicateRow(id) }]);
        try {
          await client.submitTransaction(actions);
        } catch (e) {
          // One entry already gone fails the whole transaction: delete one by one, ignoring the missing.
          if (statusOf(e) !== 404) throw e;
          for (const [, row] of actions) await client.deleteEntity(row.partitionKey, row.rowKey).catch(() => undefined);
        }
      }
    },
  };
}
