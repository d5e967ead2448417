import { z } from 'zod';
import { processBodySchema, processIdSchema } from './process-definition';
import type { ProcessRecord } from './process-repository';

const definitionSchema = processBodySchema.extend({ id: processIdSchema });

/** A process as the API answers it (contract, in the OpenAPI document): its draft and, once published, the live version. */
export const processViewSchema = z.strictObject({
  id: processIdSchema,
  draft: definitionSchema,
  savedAt: z.iso.datetime(),
  savedBy: z.string(),
  published: z
    .strictObject({
      version: z.number().int().min(1),
      definition: definitionSchema,
      publishedAt: z.iso.datetime(),
      publishedBy: z.string(),
    })
    .optional(),
});
export type ProcessView = z.output<typeof processViewSchema>;

export const toProcessView = (p: ProcessRecord): ProcessView => ({
  id: p.id,
  draft: p.draft,
  savedAt: p.savedAt,
  savedBy: p.savedBy,
  ...(p.published ? { published: p.published } : {}),
});

/** The answer to `POST /api/processes/{id}/publish`: the version now live, and what will make its runs fail. */
export const publishAnswerSchema = z.strictObject({
  version: z.number().int().min(1),
  /** Problems that do not stop publishing but will make runs fail (e.g. the tenant has no connection yet). */
  warnings: z.array(z.string()).optional(),
});
export type PublishAnswer = z.infer<typeof publishAnswerSchema>;
