import { readJson, routeParam } from '../src/http/request';
import { json } from '../src/http/responses';
import { processBodySchema, processIdSchema } from '../src/processes/process-definition';
import type { ProcessRecord } from '../src/processes/process-repository';
import { adminApi } from './admin-api';
import type { HttpFunction } from './registry';

const view = (p: ProcessRecord) => ({
  id: p.id,
  draft: p.draft,
  savedAt: p.savedAt,
  savedBy: p.savedBy,
  ...(p.published ? { published: p.published } : {}),
});

export const processFunctions: HttpFunction[] = [
  adminApi('processes-list', 'GET', 'processes', async (_req, admin, { processes }) =>
    json(200, { processes: (await processes.list(admin)).map(view) }),
  ),
  adminApi('processes-get', 'GET', 'processes/{id}', async (req, admin, { processes }) =>
    json(200, view(await processes.get(admin, routeParam(req, 'id', processIdSchema)))),
  ),
  adminApi('processes-save', 'PUT', 'processes/{id}', async (req, admin, { processes }) => {
    const id = routeParam(req, 'id', processIdSchema);
    const body = await readJson(req, processBodySchema);
    return json(200, view(await processes.save(admin, id, body)));
  }),
  adminApi('processes-publish', 'POST', 'processes/{id}/publish', async (req, admin, { processes }) =>
    json(200, await processes.publish(admin, routeParam(req, 'id', processIdSchema))),
  ),
];
