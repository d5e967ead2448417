import { appContext } from '../src/app-context';
import { safeMessage } from '../src/shared/errors';
import { logLine } from '../src/shared/log-line';
import type { TimerFunction } from './registry';

/**
 * Daily (KEEPALIVE_SCHEDULE) refresh of idle connections, so their refresh tokens never die of inactivity.
 * The work is in src/connections/keep-alive.ts; this only runs it and logs the outcome (ids and our own
 * reason texts only). It does not throw on per-connection failures: those are retried by the next run, and a
 * timer has no redelivery anyway.
 */
export const timerFunctions: TimerFunction[] = [
  {
    kind: 'timer',
    name: 'connections-keepalive',
    // Resolved by the Functions host from the app setting; Bicep always sets it (see settings.ts for the default).
    schedule: '%KEEPALIVE_SCHEDULE%',
    handler: async (timer, context) => {
      const { keepAlive, sendReauthorizeWarnings } = await appContext();
      let report;
      try {
        report = await keepAlive.run();
      } catch (e) {
        context.error(logLine('Keep-alive could not list connections', { error: safeMessage(e) }));
        throw e;
      }
      context.info(
        `Keep-alive${timer.isPastDue ? ' (past due)' : ''}: ${report.active} active, ${report.idle} idle, ${report.refreshed.length} refreshed, ` +
          `${report.needsReauth.length} marked needs_reauth, ${report.failed.length} failed transiently, ` +
          `${report.skipped.length} skipped (tenant not registered), ` +
          (typeof report.purgedSignInStates === 'number'
            ? `${report.purgedSignInStates} expired sign-in states purged`
            : 'expired sign-in states not purged (retried next run)'),
      );
      // Counts and the rows' own GUIDs only in the text; reasons (which may quote the identity provider) as JSON fields.
      for (const d of report.needsReauth)
        context.warn(logLine(`Connection ${d.id} of tenant ${d.tenantId} needs re-authorization`, { reason: d.reason }));
      for (const s of report.skipped)
        context.warn(logLine(`Connection ${s.id} of tenant ${s.tenantId} was not refreshed: the tenant is no longer registered`, {}));
      for (const f of report.failed)
        context.warn(logLine(`Connection ${f.id} of tenant ${f.tenantId} was not refreshed (retried next run)`, { reason: f.reason }));
      // After the refreshes: a connection still close to its re-authorize-by date could not be refreshed.
      try {
        const warnings = await sendReauthorizeWarnings();
        if (warnings) context.info(logLine('Re-authorize-by warnings sent', { count: warnings }));
      } catch (e) {
        context.error(logLine('Re-authorize-by warnings not sent (retried next run)', { error: safeMessage(e) }));
      }
    },
  },
];
