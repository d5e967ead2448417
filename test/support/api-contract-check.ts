import { z } from 'zod';

/**
 * The contract test: every answer a stack test receives from the API is checked against the OpenAPI document the
 * stack itself serves (GET /api/openapi.json), so the document cannot drift from what the routes answer. An answer
 * with a status the operation does not document, or a body its schema refuses, throws at the call that got it.
 * Requests that match no documented operation (the local host's own 404/405) are not the API's answers: skipped.
 */
type Operation = { responses: Record<string, { content?: Record<string, { schema: unknown }> }> };
type Document = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

export interface ContractCheck {
  check(method: string, path: string, status: number, contentType: string | null, json: unknown): Promise<void>;
  /** How many answers were checked against a schema (for a test that the check runs at all). */
  checked: number;
}

export function apiContractCheck(baseUrl: string): ContractCheck {
  let document: Promise<Document> | undefined;
  const validators = new Map<string, z.ZodType>();
  const load = () => (document ??= fetch(`${baseUrl}/api/openapi.json`).then((r) => r.json() as Promise<Document>));
  const inline = (schema: unknown, doc: Document): unknown => {
    if (Array.isArray(schema)) return schema.map((s) => inline(s, doc));
    if (!schema || typeof schema !== 'object') return schema;
    const ref = (schema as { $ref?: string }).$ref;
    if (ref?.startsWith('#/components/schemas/')) return inline(doc.components.schemas[ref.slice('#/components/schemas/'.length)], doc);
    return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, inline(v, doc)]));
  };
  const result: ContractCheck = {
    checked: 0,
    async check(method, path, status, contentType, json) {
      const doc = await load();
      const pathOnly = path.split('?')[0];
      const template = Object.keys(doc.paths).find((t) =>
        new RegExp(`^${t.replace(/\{\w+\}/g, '[^/]+').replace(/\./g, '\\.')}$`).test(pathOnly),
      );
      const operation = template && doc.paths[template][method.toLowerCase()];
      if (!operation) return;
      const where = `${method} ${template} answered ${status}`;
      const answer = operation.responses[String(status)];
      if (!answer) throw new Error(`Contract: ${where}, a status the OpenAPI document does not list for it`);
      const schema = answer.content?.['application/json']?.schema;
      if (!schema) {
        if (answer.content === undefined && json !== undefined)
          throw new Error(`Contract: ${where} with a body the document does not describe`);
        return;
      }
      if (!contentType?.includes('application/json')) throw new Error(`Contract: ${where} with ${contentType}, not JSON`);
      const key = `${method} ${template} ${status}`;
      let validator = validators.get(key);
      if (!validator) validators.set(key, (validator = z.fromJSONSchema(inline(schema, doc) as z.core.JSONSchema.JSONSchema)));
      const parsed = validator.safeParse(json);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
        throw new Error(`Contract: ${where} with a body its schema refuses: ${problems}`);
      }
      result.checked++;
    },
  };
  return result;
}
