import type { HttpHandler, HttpMethod } from '@azure/functions';

/**
 * One list of every function, used both by `index.ts` (registration with the Functions host) and by
 * the local host, so the two cannot drift.
 */
export interface HttpFunction {
  kind: 'http';
  name: string;
  methods: HttpMethod[];
  /** Route under /api, Azure Functions template syntax (`connections/{id}`). */
  route: string;
  handler: HttpHandler;
}

export type FunctionDefinition = HttpFunction;
