import { z } from 'zod';
import { postedEventSchema, queuePostedEvent } from '../src/events/event-intake';
import { matchEvent } from '../src/events/matching';
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

/**
 * The answer to `POST /api/events` (README "Events"): the event's id, and how many published system processes it
 * matched when it was posted. Each gets a run when the queued event is processed (not started, when the loop guard
 * says so); a process published or changed in between decides differently, so `matched` is a forecast.
 */
const eventAnswer = z.strictObject({ id: z.string(), queued: z.literal(true), matched: z.number().int().nonnegative() });

export const runFunctions: HttpFunction[] = [
  adminApi(
    'events-post',
    'POST',
    'events',
    { summary: "Queue a product event for the caller's tenant", body: postedEventSchema, answers: { 202: eventAnswer }, errors: [429] },
    async (req, admin, { messageSender, quotas, processes }) => {
      const posted = await readJson(req, postedEventSchema);
      quotas.spend('events', admin.tenantId);
      // Read before queueing: when the read fails, nothing was queued and the caller's retry is the only copy.
      const published = await processes.listPublished(admin);
      const event = await queuePostedEvent(posted, admin.tenantId, { sender: messageSender });
      return json(202, { id: event.id, queued: true, matched: matchEvent(event, published).length });
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
