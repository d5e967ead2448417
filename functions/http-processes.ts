import { appContext } from '../src/app-context';
import { adminRoute } from '../src/http/admin-route';
import { readJson, validate } from '../src/http/request';
import { json } from '../src/http/responses';
import { processBodySchema, processIdSchema } from '../src/processes/process-definition';
import type { ProcessRecord } from '../src/processes/process-repository';
import type { HttpFunction } from './registry';

const processId = (params: Record<string, string>) => validate(processIdSchema, params.id, 'route parameter "id"');

const view = (p: ProcessRecord) => ({ id: p.id, draft: p.draft, savedAt: p.savedAt, savedBy: p.savedBy, ...(p.published ? { published: p.published } : {}) });

export const processFunctions: HttpFunction[] = [
  {
    kind: 'http',
    name: 'processes-list',
    methods: ['GET'],
    route: 'processes',
    handler: adminRoute(appContext, async (_req, admin, { processes }) => json(200, { processes: (await processes.list(admin)).map(view) })),
  },
  {
    kind: 'http',
    name: 'processes-get',
    methods: ['GET'],
    route: 'processes/{id}',
    handler: adminRoute(appContext, async (req, admin, { processes }) => json(200, view(await processes.get(admin, processId(req.params))))),
  },
  {
    kind: 'http',
    name: 'processes-save',
    methods: ['PUT'],
    route: 'processes/{id}',
    handler: adminRoute(appContext, async (req, admin, { processes }) => {
      const id = processId(req.params);
      const body = await readJson(req, processBodySchema);
      return json(200, view(await processes.save(admin, id, body)));
    }),
  },
  {
    kind: 'http',
    name: 'processes-publish',
    methods: ['POST'],
    route: 'processes/{id}/publish',
    handler: adminRoute(appContext, async (req, admin, { processes }) => json(200, await processes.publish(admin, processId(req.params)))),
  },
];
