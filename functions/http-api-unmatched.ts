import type { HttpMethod } from '@azure/functions';
import { unmatchedRouteAnswer } from '../src/http/unmatched-route';
import type { FunctionDefinition, HttpFunction } from './registry';

const everyMethod: HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/**
 * The API's answer to a request no other route takes: 404 for an unknown /api path, 405 for a method the route does
 * not take, both in the one error body (without it the Functions host answers an empty 404).
 *
 * The Functions host matches routes in the order of the functions' names, not by ASP.NET Core's route precedence
 * (github.com/Azure/azure-functions-host/issues/9876, azure-functions-nodejs-library/issues/300): the name sorts this
 * catch-all after every other function. The local host (src/local/host.ts) tries a catch-all last too.
 */
export function unmatchedApiFunction(all: () => readonly FunctionDefinition[]): HttpFunction {
  return {
    kind: 'http',
    name: 'zz-api-unmatched',
    methods: everyMethod,
    route: '{*path}',
    contract: { summary: 'Any request no route takes: 404, or 405 with Allow', auth: 'none', answers: {} },
    handler: async (req) => {
      const routes = all().filter((f): f is HttpFunction => f.kind === 'http');
      const path = new URL(req.url).pathname.replace(/^\/api\/?/, '');
      return unmatchedRouteAnswer(path, req.method, routes);
    },
  };
}
