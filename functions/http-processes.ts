import { z } from 'zod';
import { readJson, routeParam } from '../src/http/request';
import { json } from '../src/http/responses';
import { processBodySchema, processIdSchema } from '../src/processes/process-definition';
import { processSummarySchema } from '../src/processes/process-summary';
import { processViewSchema, publishAnswerSchema, toProcessView } from '../src/processes/process-view';
import { adminApi } from './admin-api';
import { userApi } from './user-api';
import type { HttpFunction } from './registry';

const idParams = { id: processIdSchema };

export const processFunctions: HttpFunction[] = [
  adminApi(
    'processes-list',
    'GET',
    'processes',
    { summary: "The tenant's processes", answers: { 200: z.strictObject({ processes: z.array(processViewSchema) }) } },
    async (_req, admin, { processes }) => json(200, { processes: (await processes.list(admin)).map(toProcessView) }),
  ),
  adminApi(
    'processes-get',
    'GET',
    'processes/{id}',
    { summary: 'One process: its draft and published version', params: idParams, answers: { 200: processViewSchema } },
    async (req, admin, { processes }) => json(200, toProcessView(await processes.get(admin, routeParam(req, 'id', processIdSchema)))),
  ),
  userApi(
    'processes-summary',
    'GET',
    'processes/{id}/summary',
    {
      summary: 'What a published user process does and as whom (each step: action, target, "you" or the connection), for any user',
      params: idParams,
      answers: { 200: processSummarySchema },
    },
    async (req, caller, { processes }) => json(200, await processes.summary(caller.user.tenantId, routeParam(req, 'id', processIdSchema))),
  ),
  userApi(
    'user-processes-list',
    'GET',
    'user-processes',
    {
      summary: 'The published user processes the caller may start, each with what it does and as whom (any user)',
      answers: { 200: z.strictObject({ processes: z.array(processSummarySchema) }) },
    },
    async (_req, caller, { processes }) => json(200, { processes: await processes.startable(caller.user.tenantId) }),
  ),
  adminApi(
    'processes-save',
    'PUT',
    'processes/{id}',
    {
      summary: "Save a process's draft (422 names each rule it breaks)",
      params: idParams,
      body: processBodySchema,
      answers: { 200: processViewSchema },
      // 409: the tenant's quota of processes is reached (a new id only).
      errors: [409, 422],
    },
    async (req, admin, { processes }) => {
      const id = routeParam(req, 'id', processIdSchema);
      const body = await readJson(req, processBodySchema);
      return json(200, toProcessView(await processes.save(admin, id, body)));
    },
  ),
  adminApi(
    'processes-publish',
    'POST',
    'processes/{id}/publish',
    {
      summary: 'Publish the draft as the next version (422 names each rule it breaks)',
      params: idParams,
      answers: { 200: publishAnswerSchema },
      errors: [422],
    },
    async (req, admin, { processes }) => json(200, await processes.publish(admin, routeParam(req, 'id', processIdSchema))),
  ),
];
