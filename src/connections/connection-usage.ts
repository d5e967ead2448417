import type { ProcessDefinition } from '../processes/process-definition';
import type { ProcessRecord } from '../processes/process-repository';

export interface ConnectionReference {
  processId: string;
  processName: string;
  version: 'draft' | number;
  /** Absent for a process-level `runAs`, which also binds publishing even when every step overrides it. */
  stepId?: string;
  via: 'executeAs' | 'runAs' | 'default';
}

export interface ConnectionUsage {
  connectionId: string;
  isDefault: boolean;
  references: ConnectionReference[];
}

/**
 * Where the tenant's processes (each draft and latest published version) reference a connection: a step's
 * `permissions.executeAs`, a process's `runAs`, or — for the default connection — the action steps of system
 * processes that name neither (only system processes run through the step runner; form steps never run as a
 * connection). Older published versions are left out: new runs always take the latest one.
 */
export function connectionUsage(connectionId: string, isDefault: boolean, processes: readonly ProcessRecord[]): ConnectionUsage {
  const references: ConnectionReference[] = [];
  const scan = (d: ProcessDefinition, version: ConnectionReference['version']) => {
    const ref = { processId: d.id, processName: d.name, version };
    if (d.runAs === connectionId) references.push({ ...ref, via: 'runAs' });
    for (const step of d.steps) {
      const executeAs = step.permissions?.executeAs;
      if (executeAs === connectionId) references.push({ ...ref, stepId: step.id, via: 'executeAs' });
      else if (isDefault && !executeAs && !d.runAs && step.type === 'action' && d.kind === 'system') {
        references.push({ ...ref, stepId: step.id, via: 'default' });
      }
    }
  };
  for (const p of processes) {
    scan(p.draft, 'draft');
    if (p.published) scan(p.published.definition, p.published.version);
  }
  return { connectionId, isDefault, references };
}
