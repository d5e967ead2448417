import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { appContext } from '../src/app-context';
import { queueNames } from '../src/config/queues';
import { messageIdFor } from '../src/adapters/message-queue';
import { eventSizeProblem, productEventSchema } from '../src/events/product-event';
import { HttpError, notFound } from '../src/http/errors';
import { adminRoute } from '../src/http/admin-route';
import { readJson, validate } from '../src/http/request';
import { json } from '../src/http/responses';
import { processIdSchema } from '../src/processes/process-definition';
import { toRunView } from '../src/runs/run';
import { runIdPattern } from '../src/runs/run-repository';
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

export const runFunctions: HttpFunction[] = [
  {
    kind: 'http',
    name: 'events-post',
    methods: ['POST'],
    route: 'events',
    handler: adminRoute(appContext, async (req, admin, { sender }) => {
      const body = await readJson(req, postedEvent);
      const event = validate(
        productEventSchema,
        { ...body, id: body.id ?? randomUUID(), occurredAt: body.occurredAt ?? new Date().toISOString(), tenantId: admin.tenantId },
        'body',
      );
      const tooLarge = eventSizeProblem(event);
      if (tooLarge) throw new HttpError(413, tooLarge);
      await sender.send(queueNames.events, [{ body: event, messageId: messageIdFor(event.tenantId, event.id) }]);
      return json(202, { id: event.id, queued: true });
    }),
  },
  {
    kind: 'http',
    name: 'runs-list',
    methods: ['GET'],
    route: 'runs',
    handler: adminRoute(appContext, async (req, admin, { runs }) => {
      const query = validate(runsQuery, Object.fromEntries(req.query.entries()), 'query');
      return json(200, { runs: (await runs.list(admin.tenantId, query)).map(toRunView) });
    }),
  },
  {
    kind: 'http',
    name: 'runs-get',
    methods: ['GET'],
    route: 'runs/{id}',
    handler: adminRoute(appContext, async (req, admin, { runs }) => {
      const id = validate(z.string().regex(runIdPattern, 'is not a run id'), req.params.id, 'route parameter "id"');
      const run = await runs.get(admin.tenantId, id);
      if (!run) throw notFound('Run not found.');
      return json(200, toRunView(run));
    }),
  },
];
