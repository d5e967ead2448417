import type { TableClient } from '@azure/data-tables';
import { getEntityOrUndefined, statusOf, type TableFactory } from '../adapters/tables';

/**
 * Where the tenant stands with admin consent to the app registrations (the Graph permissions of the sign-in app, the
 * admin API), as the vendor's operator last recorded it: `pending` until the tenant's administrator has granted it,
 * `granted` once confirmed, `withdrawn` when the tenant removed the app. Informational: Entra itself refuses sign-ins
 * of a tenant without consent; registration alone decides whether the app serves the tenant.
 */
export const consentStates = ['pending', 'granted', 'withdrawn'] as const;
export type ConsentState = (typeof consentStates)[number];

/** A tenant the vendor serves: one row of the `Tenants` table, written only by an operator (`npm run tenant`). */
export interface TenantRegistration {
  tenantId: string;
  displayName: string;
  registeredAt: string;
  registeredBy: string;
  consentState: ConsentState;
  consentChangedAt: string;
  consentChangedBy: string;
}

/** Table row: partition = tenant id, row = `registration`. */
type TenantRow = Omit<TenantRegistration, 'tenantId'> & { partitionKey: string; rowKey: string };

const ROW = 'registration';

export const tenantIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const fromRow = (r: TenantRow): TenantRegistration => ({
  tenantId: r.partitionKey,
  displayName: r.displayName,
  registeredAt: r.registeredAt,
  registeredBy: r.registeredBy,
  consentState: consentStates.includes(r.consentState) ? r.consentState : 'pending',
  consentChangedAt: r.consentChangedAt ?? r.registeredAt,
  consentChangedBy: r.consentChangedBy ?? r.registeredBy,
});

export class TenantRegistry {
  constructor(
    private readonly tables: TableFactory,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private table(): Promise<TableClient> {
    return this.tables(this.tableName);
  }

  async get(tenantId: string): Promise<TenantRegistration | undefined> {
    // Tenant ids are lower-case GUIDs wherever the app meets them (tokens, events, states); anything else is unknown.
    if (!tenantIdPattern.test(tenantId)) return undefined;
    const row = await getEntityOrUndefined<TenantRow>(await this.table(), tenantId, ROW);
    return row && fromRow(row);
  }

  async list(): Promise<TenantRegistration[]> {
    const out: TenantRegistration[] = [];
    for await (const row of (await this.table()).listEntities<TenantRow>()) if (row.rowKey === ROW) out.push(fromRow(row as TenantRow));
    return out.sort((a, b) => a.registeredAt.localeCompare(b.registeredAt));
  }

  /** Registers a tenant, or renames an existing registration (keeping when and by whom it was registered). */
  async register(input: { tenantId: string; displayName: string; by: string; consentState?: ConsentState }): Promise<TenantRegistration> {
    const tenantId = input.tenantId.toLowerCase();
    if (!tenantIdPattern.test(tenantId)) throw new Error(`"${input.tenantId}" is not a tenant id (a GUID).`);
    const existing = await this.get(tenantId);
    const at = this.now().toISOString();
    const consentState = input.consentState ?? existing?.consentState ?? 'pending';
    const consentChanged = !existing || existing.consentState !== consentState;
    const registration: TenantRegistration = {
      tenantId,
      displayName: input.displayName,
      registeredAt: existing?.registeredAt ?? at,
      registeredBy: existing?.registeredBy ?? input.by,
      consentState,
      consentChangedAt: consentChanged ? at : existing.consentChangedAt,
      consentChangedBy: consentChanged ? input.by : existing.consentChangedBy,
    };
    const { tenantId: partitionKey, ...fields } = registration;
    await (await this.table()).upsertEntity<TenantRow>({ partitionKey, rowKey: ROW, ...fields }, 'Replace');
    return registration;
  }

  async setConsent(tenantId: string, consentState: ConsentState, by: string): Promise<TenantRegistration> {
    const existing = await this.get(tenantId.toLowerCase());
    if (!existing) throw new Error(`Tenant ${tenantId} is not registered.`);
    return this.register({ tenantId: existing.tenantId, displayName: existing.displayName, by, consentState });
  }

  /** Ends a registration: the tenant is refused again once instances' cached checks expire. */
  async remove(tenantId: string): Promise<boolean> {
    try {
      await (await this.table()).deleteEntity(tenantId.toLowerCase(), ROW);
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw e;
    }
  }
}
