import { z } from 'zod';
import { postedEventSchema, queuePostedEvent } from '../src/events/event-intake';
import { queryParams, readJson, routeParam } from '../src/http/request';
import { json } from '../src/http/responses';
import { processIdSchema } from '../src/processes/process-definition';
import { runViewSchema, toRunView } from '../src/runs/run';
import { runIdPattern } from '../src/runs/run-repository';
import { AppError } from '../src/shared/errors';
import { adminApi } from './admin-api';
import type { HttpFunction } from './registry';

const runsQuery = z.strictObject({
  processId: processIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
});

const runId = z.string().regex(runIdPattern, 'is not a run id');

/** The answer to `POST /api/events`: the event's id, and how many published processes it starts (README "Events"). */
const eventAnswer = z.strictObject({ id: z.string(), queued: z.literal(true) });

export const runFunctions: HttpFunction[] = [
  adminApi(
    'events-post',
    'POST',
    'events',
    { summary: "Queue a product event for the caller's tenant", body: postedEventSchema, answers: { 202: eventAnswer }, errors: [429] },
    async (req, admin, { messageSender, quotas }) => {
      const posted = await readJson(req, postedEventSchema);
      quotas.spend('events', admin.tenantId);
      const event = await queuePostedEvent(posted, admin.tenantId, { sender: messageSender });
      return json(202, { id: event.id, queued: true });
    },
  ),
  adminApi(
    'runs-list',
    'GET',
    'runs',
    { summary: "The tenant's runs, newest first", query: runsQuery, answers: { 200: z.strictObject({ runs: z.array(runViewSchema) }) } },
    async (req, admin, { runs }) => {
      const query = queryParams(req, runsQuery);
      return json(200, { runs: (await runs.list(admin.tenantId, query)).map(toRunView) });
    },
  ),
  adminApi(
    'runs-get',
    'GET',
    'runs/{id}',
    { summary: 'One run with its steps', params: { id: runId }, answers: { 200: runViewSchema } },
    async (req, admin, { runs }) => {
      const run = await runs.get(admin.tenantId, routeParam(req, 'id', runId));
      if (!run) throw new AppError('not_found', 'Run not found.');
      return json(200, toRunView(run));
    },
  ),
];
