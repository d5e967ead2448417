import { z } from 'zod';
import { postedEventSchema, queuePostedEvent } from '../src/events/event-intake';
import { matchEvent } from '../src/events/matching';
import { requestTrace } from '../src/http/incoming-trace';
import { queryParams, readJson, routeParam } from '../src/http/request';
import { json } from '../src/http/responses';
import { processIdSchema } from '../src/processes/process-definition';
import { runStatuses, runViewSchema, toRunView } from '../src/runs/run';
import { runIdPattern } from '../src/runs/run-repository';
import { startRunSchema, waitingFormSchema } from '../src/runs/user-run-requests';
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
const runStarted = z.strictObject({ runId: z.string() });
const submitBody = z.strictObject({ values: z.record(z.string(), z.unknown()) });

/**
 * The answer to `POST /api/events` (docs/processes.md "Events"): the event's id, and how many published system processes it
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
    async (req, admin, { messageSender, quotas, processes }, context) => {
      const posted = await readJson(req, postedEventSchema);
      quotas.spend('events', admin.tenantId);
      // Read before queueing: when the read fails, nothing was queued and the caller's retry is the only copy.
      const published = await processes.listPublished(admin);
      const event = await queuePostedEvent(posted, admin.tenantId, { sender: messageSender, trace: requestTrace(req, context) });
      return json(202, { id: event.id, queued: true, matched: matchEvent(event, published).length });
    },
  ),
  userApi(
    'runs-list',
    'GET',
    'runs',
    {
      summary: "Runs, newest first: the caller's own with initiatedBy=me (any user), else every run of the tenant (admins)",
      query: runsQuery,
      answers: { 200: z.strictObject({ runs: z.array(runViewSchema) }) },
    },
    async (req, caller, { userRuns }) => {
      const query = queryParams(req, runsQuery);
      return json(200, { runs: (await userRuns.list(caller, query)).map(toRunView) });
    },
  ),
  userApi(
    'runs-get',
    'GET',
    'runs/{id}',
    { summary: 'One run with its steps (the initiator, or an admin)', params: { id: runId }, answers: { 200: runViewSchema } },
    async (req, caller, { userRuns }) => json(200, toRunView(await userRuns.get(caller, routeParam(req, 'id', runId)))),
  ),
  userApi(
    'runs-form',
    'GET',
    'runs/{id}/form',
    {
      summary: 'The form the run waits for, with its field definitions (its initiator only)',
      params: { id: runId },
      answers: { 200: waitingFormSchema },
    },
    async (req, caller, { userRuns }) => json(200, await userRuns.waitingFormOf(caller, routeParam(req, 'id', runId))),
  ),
  userApi(
    'runs-start',
    'POST',
    'processes/{id}/runs',
    {
      summary: 'Start a published user process on an item the caller can open',
      params: { id: processIdSchema },
      body: startRunSchema,
      answers: { 202: runStarted },
      // 429: the caller's or the tenant's rate of starts, or the caller's runs running or waiting at once.
      errors: [422, 429],
    },
    async (req, caller, { userRuns, quotas }, context) => {
      const processId = routeParam(req, 'id', processIdSchema);
      const body = await readJson(req, z.unknown());
      quotas.spendAsUser('runStarts', caller.user);
      return json(202, await userRuns.start(caller, processId, body, requestTrace(req, context)));
    },
  ),
  userApi(
    'runs-submit-step',
    'POST',
    'runs/{id}/steps/{stepId}/submit',
    {
      summary: 'Submit the form step a run waits for (its initiator only)',
      params: { id: runId, stepId: stepIdParam },
      body: submitBody,
      answers: { 202: z.strictObject({ runId: z.string(), status: z.enum(runStatuses) }) },
      errors: [422, 429],
    },
    async (req, caller, { userRuns, quotas }) => {
      const id = routeParam(req, 'id', runId);
      const stepId = routeParam(req, 'stepId', stepIdParam);
      const body = await readJson(req, z.unknown());
      quotas.spendAsUser('formSubmissions', caller.user);
      return json(202, await userRuns.submit(caller, id, stepId, body));
    },
  ),
  userApi(
    'runs-resume',
    'POST',
    'runs/{id}/resume',
    {
      summary: "Continue a run that waits for the initiator's session, with their fresh token",
      params: { id: runId },
      answers: { 202: runStarted },
      errors: [409, 429],
    },
    async (req, caller, { userRuns, quotas }) => {
      const id = routeParam(req, 'id', runId);
      quotas.spendAsUser('runResumes', caller.user);
      return json(202, await userRuns.resume(caller, id));
    },
  ),
];
