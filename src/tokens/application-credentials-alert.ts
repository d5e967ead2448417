import { z } from 'zod';
import type { MessageSender } from '../adapters/message-queue';
import { queueNames } from '../config/queues';

/**
 * Message on queue `connection-events` (contract) when Microsoft Entra ID refuses the app's own credentials
 * (expired or wrong client secret, unknown or disabled app registration). Every connection is affected and none is
 * at fault: no connection changes status, and this one message per app and period is the signal to act on.
 */
export const applicationCredentialsInvalidSchema = z.strictObject({
  type: z.literal('ApplicationCredentialsInvalid'),
  /** The app registration whose credentials were refused. */
  clientId: z.string(),
  /** The app setting naming it: AUTH_CLIENT_ID (sign-in and refreshes) or API_CLIENT_ID (On-Behalf-Of for user processes). */
  setting: z.enum(['AUTH_CLIENT_ID', 'API_CLIENT_ID']).optional(),
  /** Entra's AADSTS code when it gave one (7000215 invalid secret, 7000222 expired secret, 700016 unknown app, ...). */
  aadsts: z.number().int().optional(),
  reason: z.string(),
  at: z.iso.datetime(),
});
export type ApplicationCredentialsInvalid = z.infer<typeof applicationCredentialsInvalidSchema>;

export interface ApplicationCredentialsAlertDeps {
  sender: MessageSender;
  clientId: string;
  /** The app setting that names `clientId`, so the alert says which registration to fix. Default AUTH_CLIENT_ID. */
  setting?: 'AUTH_CLIENT_ID' | 'API_CLIENT_ID';
  /** The error-level log line (once per period per instance). */
  logError: (message: string) => void;
  /**
   * One message per app per period: the message id names the period, so the queue's duplicate detection
   * (`duplicateDetectionHistoryTimeWindow`, PT10M in infra/modules/service-bus.bicep) drops the other instances'
   * copies, and each instance sends at most once per period. Default 10 minutes.
   */
  periodMs?: number;
  now?: () => number;
}

/** Raises `ApplicationCredentialsInvalid` at most once per period, however many refreshes fail. */
export class ApplicationCredentialsAlert {
  private readonly periodMs: number;
  private readonly now: () => number;
  /** When this instance last raised the alert: at most once per period, whatever the period boundaries. */
  private lastRaisedAt?: number;

  constructor(private readonly deps: ApplicationCredentialsAlertDeps) {
    this.periodMs = deps.periodMs ?? 10 * 60_000;
    this.now = deps.now ?? Date.now;
  }

  async raise(reason: string, aadsts?: number): Promise<void> {
    const now = this.now();
    if (this.lastRaisedAt !== undefined && now - this.lastRaisedAt < this.periodMs) return;
    this.lastRaisedAt = now;
    // Instances failing in the same period send the same id: duplicate detection keeps one.
    const period = Math.floor(now / this.periodMs);
    const setting = this.deps.setting ?? 'AUTH_CLIENT_ID';
    this.deps.logError(`ApplicationCredentialsInvalid (${setting} ${this.deps.clientId}): ${reason}`);
    const body: ApplicationCredentialsInvalid = {
      type: 'ApplicationCredentialsInvalid',
      clientId: this.deps.clientId,
      setting,
      ...(aadsts !== undefined ? { aadsts } : {}),
      reason,
      at: new Date(now).toISOString(),
    };
    try {
      await this.deps.sender.send(queueNames.connectionEvents, [
        {
          body,
          messageId: `ApplicationCredentialsInvalid:${this.deps.clientId}:${period * this.periodMs}`,
          applicationProperties: { type: body.type },
        },
      ]);
    } catch (e) {
      // Not sent: the next failure in this period tries again (the id stays the same, so no duplicate reaches the queue).
      this.lastRaisedAt = undefined;
      throw e;
    }
  }
}
