import type { Admin } from '../shared/admin';
import { AppError } from '../shared/errors';
import type { ProcessBody, ProcessDefinition, PublishedProcess } from './process-definition';
import { maxDefinitionChars, type ProcessRecord, type ProcessRepository } from './process-repository';
import { summarizeProcess, type ProcessSummary } from './process-summary';
import { validateProcess, type ActionCatalog, type KnownConnection, type ValidationError } from './process-validation';

const refuse = (errors: ValidationError[]) => new AppError('invalid', 'The process is not valid.', { details: errors });

/** A tenant's connections as publishing checks them (the connection repository, seen from below). */
export interface TenantConnections {
  list(tenantId: string): Promise<readonly KnownConnection[]>;
}

/** Saving, reading and publishing a tenant's processes. */
export class ProcessService {
  constructor(
    private readonly processes: ProcessRepository,
    private readonly connections: TenantConnections,
    private readonly actions: ActionCatalog,
    /** Processes a tenant may have (QUOTA_PROCESSES_PER_TENANT); changing an existing one is always allowed. */
    private readonly maxProcesses = Infinity,
  ) {}

  list(admin: Admin): Promise<ProcessRecord[]> {
    return this.processes.list(admin.tenantId);
  }

  /** The latest published version of each of the tenant's processes: what an event is matched against. */
  listPublished(admin: Admin): Promise<readonly PublishedProcess[]> {
    return this.processes.listPublished(admin.tenantId);
  }

  async get(admin: Admin, id: string): Promise<ProcessRecord> {
    const record = await this.processes.get(admin.tenantId, id);
    if (!record) throw new AppError('not_found', 'Process not found.');
    return record;
  }

  /**
   * What a published user process does and as whom, for any user of the tenant before they start it; 404 for a
   * process that is not a published user process.
   */
  async summary(tenantId: string, id: string): Promise<ProcessSummary> {
    const record = await this.processes.get(tenantId, id);
    const published = record?.published;
    if (!published || published.definition.kind !== 'user') throw new AppError('not_found', 'Process not found.');
    const connections = await this.connections.list(tenantId);
    return summarizeProcess(published, (c) => connections.find((x) => x.id === c)?.displayName);
  }

  /** The published user processes any user of the tenant may start, each as its summary, by name. */
  async startable(tenantId: string): Promise<ProcessSummary[]> {
    const published = (await this.processes.listPublished(tenantId)).filter((p) => p.definition.kind === 'user');
    if (!published.length) return [];
    const connections = await this.connections.list(tenantId);
    return published
      .map((p) => summarizeProcess(p, (c) => connections.find((x) => x.id === c)?.displayName))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async save(admin: Admin, id: string, body: ProcessBody): Promise<ProcessRecord> {
    const definition: ProcessDefinition = { ...body, id };
    const errors = validateProcess(definition, this.actions);
    if (JSON.stringify(definition).length > maxDefinitionChars) {
      errors.push({ path: '', message: `the definition is larger than ${maxDefinitionChars} characters` });
    }
    if (errors.length) throw refuse(errors);
    if (!(await this.processes.get(admin.tenantId, id))) {
      const count = (await this.processes.list(admin.tenantId)).length;
      if (count >= this.maxProcesses) {
        // A soft limit: two creations at the same moment may both pass, which bounds nothing less than needed.
        throw new AppError(
          'conflict',
          `Your organization already has ${count} processes, the most it may have (${this.maxProcesses}). Change an existing process, or ask your vendor to raise the limit.`,
        );
      }
    }
    return this.processes.saveDraft(admin.tenantId, definition, admin.username);
  }

  /**
   * Validates the draft again, now also against the tenant's connections, and publishes it. A system process published
   * while the tenant has no connection at all is valid (connections come and go) but cannot run: the answer says so.
   */
  async publish(admin: Admin, id: string): Promise<{ version: number; warnings?: string[] }> {
    const record = await this.get(admin, id);
    const connections = await this.connections.list(admin.tenantId);
    const errors = validateProcess(record.draft, this.actions, connections);
    if (errors.length) throw refuse(errors);
    const version = await this.processes.publish(admin.tenantId, record.draft, admin.username);
    const runsAsConnection = record.draft.kind === 'system' && record.draft.steps.some((s) => s.type === 'action');
    if (runsAsConnection && connections.length === 0) {
      return {
        version,
        warnings: [
          'Your organization has no connection yet, so runs of this process will fail at their first action step. Authorize a connection (POST /api/connections/authorize) before events arrive.',
        ],
      };
    }
    return { version };
  }
}
