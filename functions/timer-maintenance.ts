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
        const line = logLine('Maintenance: pending connection notifications', { pastDue: timer.isPastDue, delivered, leftPending: failed });
        if (failed) context.warn(line);
        else context.info(line);
      } catch (e) {
        context.error(logLine('Maintenance could not read the connection outbox (retried next run)', { error: safeMessage(e) }));
      }
      for (const r of await retention.run()) {
        const fields = { records: r.name, deleted: r.deleted, olderThan: r.cutoff, moreLeft: r.more };
        if (r.failed) context.warn(logLine('Retention stopped early (retried next run)', { ...fields, error: r.failed }));
        else context.info(logLine('Retention', fields));
      }
    },
  },
];
