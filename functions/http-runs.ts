import { z } from 'zod';
import { postedEventSchema, queuePostedEvent } from '../src/events/event-intake';
import { requestTrace } from '../src/http/incoming-trace';
import { queryParams, readJson, routeParam } from '../src/http/request';
import { json } from '../src/http/responses';
import { processIdSchema } from '../src/processes/process-definition';
import { toRunView } from '../src/runs/run';
import { runIdPattern } from '../src/runs/run-repository';
import { adminApi } from './admin-api';
import { userApi } from './user-api';
import type { HttpFunction } from './registry';

const runsQuery = z.strictObject({
  processId: processIdSchema.optional(),
  /** `me`: the caller's own runs (any user); without it, every run of the tenant (admins only). */
  initiatedBy: z.literal('me').optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const runId = z.string().regex(runIdPattern, 'is not a run id');
const stepIdParam = processIdSchema;

export const runFunctions: HttpFunction[] = [
  adminApi('events-post', 'POST', 'events', async (req, admin, { messageSender, quotas }, context) => {
    const posted = await readJson(req, postedEventSchema);
    quotas.spend('events', admin.tenantId);
    const event = await queuePostedEvent(posted, admin.tenantId, { sender: messageSender, trace: requestTrace(req, context) });
    return json(202, { id: event.id, queued: true });
  }),
  userApi('runs-list', 'GET', 'runs', async (req, caller, { userRuns }) => {
    const query = queryParams(req, runsQuery);
    return json(200, { runs: (await userRuns.list(caller, query)).map(toRunView) });
  }),
  userApi('runs-get', 'GET', 'runs/{id}', async (req, caller, { userRuns }) =>
    json(200, toRunView(await userRuns.get(caller, routeParam(req, 'id', runId)))),
  ),
  userApi('runs-start', 'POST', 'processes/{id}/runs', async (req, caller, { userRuns }, context) => {
    const processId = routeParam(req, 'id', processIdSchema);
    const body = await readJson(req, z.unknown());
    return json(202, await userRuns.start(caller, processId, body, requestTrace(req, context)));
  }),
  userApi('runs-submit-step', 'POST', 'runs/{id}/steps/{stepId}/submit', async (req, caller, { userRuns }) => {
    const id = routeParam(req, 'id', runId);
    const stepId = routeParam(req, 'stepId', stepIdParam);
    const body = await readJson(req, z.unknown());
    return json(202, await userRuns.submit(caller, id, stepId, body));
  }),
  userApi('runs-resume', 'POST', 'runs/{id}/resume', async (req, caller, { userRuns }) =>
    json(202, await userRuns.resume(caller, routeParam(req, 'id', runId))),
  ),
];
