import { appContext } from '../src/app-context';
import { safeMessage } from '../src/shared/errors';
import { logLine } from '../src/shared/log-line';
import type { TimerFunction } from './registry';

/**
 * Every few minutes (MAINTENANCE_SCHEDULE): delivers connection notifications a crash or a failed send left in the
 * outbox (src/connections/connection-outbox.ts), then deletes runs, dead letters and audit entries past their
 * retention, a bounded batch per table (src/runs/retention.ts). Each part's failure is logged and retried on the next
 * run; a timer has no redelivery.
 */
export const maintenanceFunctions: TimerFunction[] = [
  {
    kind: 'timer',
    name: 'connections-maintenance',
    // Resolved by the Functions host from the app setting; Bicep always sets it (see settings.ts for the default).
    schedule: '%MAINTENANCE_SCHEDULE%',
    handler: async (timer, context) => {
      const { connectionOutbox, retention } = await appContext();
      try {
        const { delivered, failed } = await connectionOutbox.deliverAll();
        const line = `Maintenance${timer.isPastDue ? ' (past due)' : ''}: ${delivered} pending connection notification(s) delivered, ${failed} left pending`;
        if (failed) context.warn(line);
        else context.info(line);
      } catch (e) {
        context.error(logLine('Maintenance could not read the connection outbox (retried next run)', { error: safeMessage(e) }));
      }
      for (const r of await retention.run()) {
        const line = `Retention: ${r.deleted} ${r.name} older than ${r.cutoff} deleted${r.more ? ' (more left for the next run)' : ''}`;
        if (r.failed) context.warn(logLine(`${line}; stopped early (retried next run)`, { error: r.failed }));
        else context.info(line);
      }
    },
  },
];
