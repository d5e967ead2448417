import { z } from 'zod';
import { productEventSchema } from '../events/product-event';
import { connectionEventSchema } from '../notifications/connection-notices';

/**
 * The message contracts of the app's queues as JSON Schema 2020-12, generated from the zod schemas the code uses
 * (served under /api/schemas/): what the product sends on `workpoint-events` (validated with `productEventSchema`
 * as it arrives) and what the app sends on `connection-events` (typed by these schemas where it is built).
 */
export const publishedSchemas: Record<string, { title: string; schema: z.ZodType; io: 'input' | 'output' }> = {
  'product-event.json': { title: 'A product event (queue workpoint-events)', schema: productEventSchema, io: 'input' },
  'connection-event.json': {
    title: 'A message on queue connection-events',
    schema: connectionEventSchema,
    io: 'output',
  },
};

export function publishedSchema(name: string): Record<string, unknown> | undefined {
  const entry = Object.hasOwn(publishedSchemas, name) ? publishedSchemas[name] : undefined;
  if (!entry) return undefined;
  return { $id: `/api/schemas/${name}`, title: entry.title, ...z.toJSONSchema(entry.schema, { io: entry.io, unrepresentable: 'any' }) };
}
