import { RestError, TableClient, type TableEntity } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { Settings } from '../config/settings';

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
    const client = settings.TABLES_CONNECTION_STRING
      ? TableClient.fromConnectionString(settings.TABLES_CONNECTION_STRING, name, { allowInsecureConnection: settings.CONNECTIONS_LOCAL_MODE })
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

export const statusOf = (e: unknown): number | undefined => (e instanceof RestError ? e.statusCode : undefined);

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
