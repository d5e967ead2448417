import { z } from 'zod';
import { appContext } from '../src/app-context';
import { postedEventSchema, queuePostedEvent } from '../src/events/event-intake';
import { HttpError, notFound } from '../src/http/errors';
import { adminRoute } from '../src/http/admin-route';
import { readJson, validate } from '../src/http/request';
import { json } from '../src/http/responses';
import { processIdSchema } from '../src/processes/process-definition';
import { toRunView } from '../src/runs/run';
import { runIdPattern } from '../src/runs/run-repository';
import { isAppError } from '../src/shared/errors';
import type { HttpFunction } from './registry';

/**
 * The statuses of the AppError codes event intake throws. Interim: the HTTP edge's one table of AppError codes
 * (issue 11, error vocabulary) replaces this when the slices are merged.
 */
const intakeRefusal = (e: unknown): never => {
  if (isAppError(e, 'too_large')) throw new HttpError(413, e.message);
  if (isAppError(e, 'bad_request')) throw new HttpError(400, e.message, e.details);
  throw e;
};

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
      const posted = await readJson(req, postedEventSchema);
      const event = await queuePostedEvent(posted, admin.tenantId, { sender }).catch(intakeRefusal);
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
