import { z } from 'zod';
import { pathSegmentProblem } from '../actions/graph-client';
import { formFieldSchema } from '../processes/process-definition';
import { AppError } from '../shared/errors';
import { bodyProblems } from '../shared/problem-path';

/** The longest `inputs`, in characters of JSON: they live in the run's Table row beside its steps. */
export const maxInputsChars = 16_000;

const idPart = (max: number) =>
  z.union([z.string().min(1).max(max), z.number().int().nonnegative().transform(String)]).superRefine((v, ctx) => {
    const why = pathSegmentProblem(v);
    if (why) ctx.addIssue({ code: 'custom', message: `${why}; it must address one item` });
  });

/** `POST processes/{id}/runs` (contract): the item to run on and optional inputs. */
export const startRunSchema = z.strictObject({
  subject: z.strictObject({ siteId: idPart(512), listId: idPart(256), itemId: idPart(128) }),
  /** Values of the process's declared inputs (text, number, boolean, date, choice): never objects. */
  inputs: z
    .record(z.string().max(64), z.union([z.string(), z.number(), z.boolean(), z.null()]))
    .refine((i) => JSON.stringify(i).length <= maxInputsChars, `must be at most ${maxInputsChars} characters of JSON`)
    .optional(),
});

/** The form a run waits for, as its initiator reads it (`GET /api/runs/{id}/form`, contract). */
export const waitingFormSchema = z.strictObject({
  runId: z.string(),
  stepId: z.string(),
  name: z.string().optional(),
  fields: z.array(formFieldSchema),
});
export type WaitingFormView = z.infer<typeof waitingFormSchema>;

/** Domain validation of a request body: 422 with `{path, message}` per problem. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AppError('invalid', 'The request is not valid.', {
    details: bodyProblems(parsed.error.issues),
  });
}
