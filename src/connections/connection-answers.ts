import { z } from 'zod';
import { auditActions } from './connection-audit';
import { connectionStatuses } from './connection';

/**
 * The answers of the connection routes besides the connection view itself (contract, in the OpenAPI document). The
 * services' return types are checked against them at compile time (`satisfies` in functions/http-connections.ts).
 */
export const authorizeStartSchema = z.strictObject({ authorizeUrl: z.url(), expiresAt: z.iso.datetime() });

export const connectionUsageSchema = z.strictObject({
  connectionId: z.string(),
  isDefault: z.boolean(),
  references: z.array(
    z.strictObject({
      processId: z.string(),
      processName: z.string(),
      version: z.union([z.literal('draft'), z.number().int()]),
      stepId: z.string().optional(),
      via: z.enum(['executeAs', 'runAs', 'default']),
    }),
  ),
});

export const auditEntriesSchema = z.strictObject({
  entries: z.array(
    z.strictObject({
      at: z.iso.datetime(),
      action: z.enum(auditActions),
      by: z.string(),
      details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    }),
  ),
});

export const testOutcomeSchema = z.union([
  z.strictObject({ ok: z.literal(true), expiresOn: z.iso.datetime() }),
  z.strictObject({ ok: z.literal(false), status: z.enum([...connectionStatuses, 'unavailable']), reason: z.string() }),
]);
