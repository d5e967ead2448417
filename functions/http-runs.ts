import { z } from 'zod';
import { postedEventSchema, queuePostedEvent } from '../src/events/event-intake';
import { queryParams, readJson, routeParam } from '../src/http/request';
import { json } from '../src/http/responses';
import { processIdSchema } from '../src/processes/process-definition';
import { toRunView } from '../src/runs/run';
import { runIdPattern } from '../src/runs/run-repository';
import { AppError } from '../src/shared/errors';
import { adminApi } from './admin-api';
import type { HttpFunction } from './registry';

const runsQuery = z.strictObject({
  processId: processIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const runId = z.string().regex(runIdPattern, 'is not a run id');

export const runFunctions: HttpFunction[] = [
  adminApi('events-post', 'POST', 'events', async (req, admin, { messageSender, quotas }) => {
    const posted = await readJson(req, postedEventSchema);
    quotas.spend('events', admin.tenantId);
    const event = await queuePostedEvent(posted, admin.tenantId, { sender: messageSender });
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
