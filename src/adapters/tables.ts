import type { TableClient, TableEntity } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { Settings } from '../config/settings';

/** `@azure/data-tables`, loaded on first use (docs/performance.md, "SDKs on first use", says why this way). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadSdk = (): typeof import('@azure/data-tables') => require('@azure/data-tables');

export type TableFactory = (tableName: string) => Promise<TableClient>;

/**
 * Table clients for the app's tables, created on first use (identity-based in Azure, Azurite's
 * connection string locally). Each table is created once per process, not per request.
 */
export function createTableFactory(
  settings: Pick<Settings, 'TABLES_ENDPOINT' | 'TABLES_CONNECTION_STRING' | 'CONNECTIONS_LOCAL_MODE'>,
  credential: TokenCredential,
): TableFactory {
  const clients = new Map<string, Promise<TableClient>>();
  const make = async (name: string) => {
    // Loaded with the first table: not when a cold instance imports the app (npm run bench, cold_import).
    const { TableClient } = loadSdk();
    const client = settings.TABLES_CONNECTION_STRING
      ? TableClient.fromConnectionString(settings.TABLES_CONNECTION_STRING, name, {
          allowInsecureConnection: settings.CONNECTIONS_LOCAL_MODE,
        })
      : new TableClient(settings.TABLES_ENDPOINT!, name, credential);
    try {
      await client.createTable();
    } catch (e) {
      if (statusOf(e) !== 409) throw e;
    }
    return client;
  };
  return (name) => {
    let client = clients.get(name);
    if (!client) {
      client = make(name);
      client.catch(() => clients.delete(name));
      clients.set(name, client);
    }
    return client;
  };
}

/**
 * The HTTP status of a storage error. Recognized by name, as the Azure SDK's own `isRestError` does
 * (@typespec/ts-http-runtime restError.ts: `instanceof RestError`, or an Error named "RestError"), so this module
 * need not load the SDK to answer.
 */
export const statusOf = (e: unknown): number | undefined =>
  e instanceof Error && e.name === 'RestError' && typeof (e as { statusCode?: unknown }).statusCode === 'number'
    ? (e as unknown as { statusCode: number }).statusCode
    : undefined;

/** A stale ETag (412) or a concurrent create (409): someone else changed the row first. */
export const isConcurrencyConflict = (e: unknown) => statusOf(e) === 412 || statusOf(e) === 409;

export async function getEntityOrUndefined<T extends object>(
  client: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<(TableEntity<T> & { etag: string }) | undefined> {
  try {
    return (await client.getEntity<T>(partitionKey, rowKey)) as TableEntity<T> & { etag: string };
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw e;
  }
}

/** OData string literal: quotes doubled so user input can never change a filter's meaning. */
export const odataString = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** Tables would store `undefined` properties as nulls; rows leave them out instead. */
export function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Azure Tables limits (learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model and
 * .../storage/tables/scalability-targets): a string property holds at most 64 KiB of UTF-16 (32K characters as
 * JavaScript counts them); an entity at most 1 MiB and 255 properties (PartitionKey, RowKey and Timestamp included);
 * PartitionKey and RowKey at most 1 KiB each. Azurite refuses an over-long string property (PropertyValueTooLarge)
 * but, measured with 3.35, not an over-large insert or too many properties: `entitySizeProblem` checks those here.
 */
export const tableLimits = {
  maxStringChars: 32 * 1024,
  maxEntityBytes: 1024 * 1024,
  maxProperties: 255,
  maxKeyChars: 1024,
} as const;

/**
 * An entity's stored size by the service's documented formula (learn.microsoft.com/archive/blogs/avkashchauhan/
 * how-the-size-of-an-entity-is-caclulated-in-windows-azure-table-storage): 4 bytes + 2 per key character + for each
 * property 8 bytes + 2 per name character + the value (strings 2 per character + 4, numbers 8, booleans 1).
 */
export function entitySizeBytes(entity: Record<string, unknown>): number {
  let size = 4;
  for (const [name, value] of Object.entries(entity)) {
    if (value === undefined) continue;
    if (name === 'partitionKey' || name === 'rowKey') {
      size += String(value).length * 2;
      continue;
    }
    size += 8 + name.length * 2;
    if (typeof value === 'string') size += value.length * 2 + 4;
    else if (typeof value === 'boolean') size += 1;
    else if (value instanceof Date || typeof value === 'number') size += 8;
    else size += JSON.stringify(value ?? null).length * 2 + 4;
  }
  return size;
}

/** Why Tables would refuse this entity for its size, naming the limit; undefined when it fits. */
export function entitySizeProblem(entity: Record<string, unknown>): string | undefined {
  const entries = Object.entries(entity).filter(([, v]) => v !== undefined);
  for (const key of ['partitionKey', 'rowKey'] as const) {
    if (String(entity[key] ?? '').length > tableLimits.maxKeyChars) return `${key} is longer than ${tableLimits.maxKeyChars} characters`;
  }
  // + Timestamp, which the service adds.
  if (entries.length + 1 > tableLimits.maxProperties)
    return `${entries.length + 1} properties; Azure Tables allows ${tableLimits.maxProperties}`;
  for (const [name, value] of entries) {
    if (typeof value === 'string' && value.length > tableLimits.maxStringChars && name !== 'partitionKey' && name !== 'rowKey') {
      return `property ${name} is ${value.length} characters; Azure Tables holds ${tableLimits.maxStringChars} per string property`;
    }
  }
  const bytes = entitySizeBytes(entity);
  if (bytes > tableLimits.maxEntityBytes)
    return `the entity is ${bytes} bytes; Azure Tables holds ${tableLimits.maxEntityBytes} per entity`;
  return undefined;
}

/** Tables' own size refusals (400 PropertyValueTooLarge / EntityTooLarge / TooManyProperties / RequestBodyTooLarge). */
export function isSizeRefusal(e: unknown): boolean {
  if (statusOf(e) !== 400 && statusOf(e) !== 413) return false;
  const code =
    (e as { details?: { odataError?: { code?: unknown } }; code?: unknown }).details?.odataError?.code ?? (e as { code?: unknown }).code;
  return typeof code === 'string' && /TooLarge|TooManyProperties/.test(code);
}
