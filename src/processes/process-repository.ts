import {
  getEntityOrUndefined,
  isConcurrencyConflict,
  odataString,
  statusOf,
  withoutUndefined,
  type TableFactory,
} from '../adapters/tables';
import { ExpiringLoads } from '../shared/expiring-loads';
import type { ProcessDefinition, PublishedProcess } from './process-definition';

/**
 * Processes of a tenant (partition = tenant). The head row `<id>` holds the draft and a copy of the
 * latest published version, so matching an event reads one partition; `<id>@v<000001>` rows are the
 * immutable published versions that runs execute, so republishing never changes a running run.
 */
type HeadRow = {
  partitionKey: string;
  rowKey: string;
  kind: 'head';
  draftJson: string;
  savedAt: string;
  savedBy: string;
  publishedVersion?: number;
  publishedJson?: string;
  publishedAt?: string;
  publishedBy?: string;
};

type VersionRow = {
  partitionKey: string;
  rowKey: string;
  kind: 'version';
  definitionJson: string;
  publishedAt: string;
  publishedBy: string;
};

export interface ProcessRecord {
  id: string;
  draft: ProcessDefinition;
  savedAt: string;
  savedBy: string;
  published?: { version: number; definition: ProcessDefinition; publishedAt: string; publishedBy: string };
}

/** Azure Tables allows 64 KiB per string property; definitions stay well below. */
export const maxDefinitionChars = 30_000;

const versionKey = (id: string, version: number) => `${id}@v${String(version).padStart(6, '0')}`;

const toRecord = (row: HeadRow): ProcessRecord => ({
  id: row.rowKey,
  draft: JSON.parse(row.draftJson),
  savedAt: row.savedAt,
  savedBy: row.savedBy,
  ...(row.publishedVersion && row.publishedJson
    ? {
        published: {
          version: row.publishedVersion,
          definition: JSON.parse(row.publishedJson),
          publishedAt: row.publishedAt!,
          publishedBy: row.publishedBy!,
        },
      }
    : {}),
});

export class ProcessRepository {
  private readonly published: ExpiringLoads<readonly PublishedProcess[]>;
  /** The objects of the last list per tenant, by process id, reused while their version is still the latest. */
  private readonly lastPublished = new Map<string, Map<string, PublishedProcess>>();

  /**
   * @param publishedCacheMs how long one instance reuses a tenant's published processes for event
   * matching: a burst of events must not read the whole partition each time. A publish on this
   * instance takes effect at once, on other instances within this time.
   */
  constructor(
    private readonly tables: TableFactory,
    private readonly tableName: string,
    publishedCacheMs = 5000,
  ) {
    this.published = new ExpiringLoads(publishedCacheMs);
  }

  async list(tenantId: string): Promise<ProcessRecord[]> {
    const table = await this.tables(this.tableName);
    const out: ProcessRecord[] = [];
    const filter = `PartitionKey eq ${odataString(tenantId)} and kind eq 'head'`;
    for await (const row of table.listEntities<HeadRow>({ queryOptions: { filter } })) out.push(toRecord(row as HeadRow));
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async get(tenantId: string, id: string): Promise<ProcessRecord | undefined> {
    const row = await getEntityOrUndefined<HeadRow>(await this.tables(this.tableName), tenantId, id);
    return row && toRecord(row);
  }

  async getVersion(tenantId: string, id: string, version: number): Promise<ProcessDefinition | undefined> {
    const row = await getEntityOrUndefined<VersionRow>(await this.tables(this.tableName), tenantId, versionKey(id, version));
    return row && JSON.parse(row.definitionJson);
  }

  async saveDraft(tenantId: string, definition: ProcessDefinition, savedBy: string): Promise<ProcessRecord> {
    const table = await this.tables(this.tableName);
    const fields = { draftJson: JSON.stringify(definition), savedAt: new Date().toISOString(), savedBy };
    // Merge keeps the published copy on the head row.
    await table.upsertEntity({ partitionKey: tenantId, rowKey: definition.id, kind: 'head', ...fields }, 'Merge');
    return (await this.get(tenantId, definition.id))!;
  }

  /**
   * Publishes `definition` (the validated draft) as the next version: the version row is created
   * first (a concurrent publish of the same number gets 409 and takes the next one), then the head
   * row is updated with its ETag so it always names the newest version.
   */
  async publish(tenantId: string, definition: ProcessDefinition, publishedBy: string): Promise<number> {
    const table = await this.tables(this.tableName);
    let head = await getEntityOrUndefined<HeadRow>(table, tenantId, definition.id);
    if (!head) throw new Error('process not found');
    const publishedAt = new Date().toISOString();
    const definitionJson = JSON.stringify(definition);
    let version = (head.publishedVersion ?? 0) + 1;
    for (; ; version++) {
      try {
        await table.createEntity<VersionRow>({
          partitionKey: tenantId,
          rowKey: versionKey(definition.id, version),
          kind: 'version',
          definitionJson,
          publishedAt,
          publishedBy,
        });
        break;
      } catch (e) {
        if (statusOf(e) !== 409 || version > (head.publishedVersion ?? 0) + 100) throw e;
      }
    }
    this.published.delete(tenantId);
    // Point the head at the new version unless a concurrent publish already made a newer one.
    while ((head.publishedVersion ?? 0) < version) {
      try {
        await table.updateEntity(
          withoutUndefined({
            partitionKey: tenantId,
            rowKey: definition.id,
            publishedVersion: version,
            publishedJson: definitionJson,
            publishedAt,
            publishedBy,
          }),
          'Merge',
          { etag: head.etag },
        );
        break;
      } catch (e) {
        if (!isConcurrencyConflict(e)) throw e;
        head = (await getEntityOrUndefined<HeadRow>(table, tenantId, definition.id))!;
      }
    }
    this.published.delete(tenantId);
    return version;
  }

  /**
   * The latest published version of every process of the tenant (what events are matched against), in id order.
   * Reads only the published columns, and hands out the same object for a process as long as its latest version
   * stays the same, so event matching compiles a version once per instance (src/events/matching.ts). The list and
   * its objects are shared: never change them.
   */
  listPublished(tenantId: string): Promise<readonly PublishedProcess[]> {
    return this.published.get(tenantId, async () => {
      const table = await this.tables(this.tableName);
      const previous = this.lastPublished.get(tenantId);
      const current = new Map<string, PublishedProcess>();
      const filter = `PartitionKey eq ${odataString(tenantId)} and kind eq 'head' and publishedVersion gt 0`;
      const select = ['RowKey', 'publishedVersion', 'publishedJson'];
      for await (const row of table.listEntities<Pick<HeadRow, 'publishedVersion' | 'publishedJson'>>({
        queryOptions: { filter, select },
      })) {
        const { rowKey, publishedVersion: version, publishedJson } = row;
        if (!rowKey || !version || !publishedJson) continue;
        const known = previous?.get(rowKey);
        current.set(rowKey, known?.version === version ? known : { definition: JSON.parse(publishedJson), version });
      }
      this.lastPublished.set(tenantId, current);
      return Object.freeze([...current.keys()].sort((a, b) => a.localeCompare(b)).map((id) => current.get(id)!));
    });
  }
}
