import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { queueNames } from '../src/config/queues';
import { messageIdFor } from '../src/adapters/message-queue';
import { eventSizeProblem, productEventSchema } from '../src/events/product-event';
import { queryParams, readJson, routeParam, validate } from '../src/http/request';
import { json } from '../src/http/responses';
import { processIdSchema } from '../src/processes/process-definition';
import { toRunView } from '../src/runs/run';
import { runIdPattern } from '../src/runs/run-repository';
import { AppError } from '../src/shared/errors';
import { adminApi } from './admin-api';
import type { HttpFunction } from './registry';

/** The admin portal posts events for its own tenant: the tenant comes from the token, id and time may be omitted. */
const postedEvent = productEventSchema.omit({ tenantId: true, causedBy: true }).extend({
  id: productEventSchema.shape.id.optional(),
  occurredAt: productEventSchema.shape.occurredAt.optional(),
});

const runsQuery = z.strictObject({
  processId: processIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const runId = z.string().regex(runIdPattern, 'is not a run id');

export const runFunctions: HttpFunction[] = [
  adminApi('events-post', 'POST', 'events', async (req, admin, { messageSender, quotas }) => {
    const body = await readJson(req, postedEvent);
    quotas.spend('events', admin.tenantId);
    const event = validate(
      productEventSchema,
      { ...body, id: body.id ?? randomUUID(), occurredAt: body.occurredAt ?? new Date().toISOString(), tenantId: admin.tenantId },
      'body',
    );
    const tooLarge = eventSizeProblem(event);
    if (tooLarge) throw new AppError('too_large', tooLarge);
    await messageSender.send(queueNames.events, [{ body: event, messageId: messageIdFor(event.tenantId, event.id) }]);
    return json(202, { id: event.id, queued: true });
  }),
  adminApi('runs-list', 'GET', 'runs', async (req, admin, { runs }) => {
    const query = queryParams(req, runsQuery);
    return json(200, { runs: (await runs.list(admin.tenantId, query)).map(toRunView) });
  }),
  adminApi('runs-get', 'GET', 'runs/{id}', async (req, admin, { runs }) => {
    const run = await runs.get(admin.tenantId, routeParam(req, 'id', runId));
    if (!run) throw new AppError('not_found', 'Run not found.');
    return json(200, toRunView(run));
  }),
];
