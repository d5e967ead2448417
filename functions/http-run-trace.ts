import { z } from 'zod';
import { routeParam } from '../src/http/request';
import { json } from '../src/http/responses';
import { runIdPattern } from '../src/runs/run-repository';
import { AppError } from '../src/shared/errors';
import { recordedSpanSchema } from '../src/shared/recorded-spans';
import { adminApi } from './admin-api';
import type { HttpFunction } from './registry';

const runId = z.string().regex(runIdPattern, 'is not a run id');

/**
 * A run's trace: every span of its trace id (event intake, run creation, each step, token acquisitions, Graph and other
 * HTTP calls) with parent links and durations, for the page's waterfall. `recorded: false` where this instance does
 * not keep spans (Azure): there the same trace is in Application Insights, operation_Id = `traceId`.
 */
const runTrace = z.strictObject({
  runId: z.string(),
  traceId: z.string().optional(),
  recorded: z.boolean(),
  spans: z.array(recordedSpanSchema),
});

export const runTraceFunctions: HttpFunction[] = [
  adminApi(
    'runs-trace',
    'GET',
    'runs/{id}/trace',
    { summary: "A run's trace: its spans with parent links and durations", params: { id: runId }, answers: { 200: runTrace } },
    async (req, admin, { runs, traces }) => {
      const id = routeParam(req, 'id', runId);
      const run = await runs.get(admin.tenantId, id);
      if (!run) throw new AppError('not_found', 'Run not found.');
      const spans = run.traceId && traces ? traces.spansOf(run.traceId) : [];
      return json(200, { runId: run.id, ...(run.traceId ? { traceId: run.traceId } : {}), recorded: traces !== undefined, spans });
    },
  ),
];
