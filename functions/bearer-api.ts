import type { HttpMethod } from '@azure/functions';
import { appContext, type AppContext } from '../src/app-context';
import type { RouteContract } from '../src/http/api-contract';
import type { HttpFunction } from './registry';

/**
 * Declares an API route (under /api) that needs a bearer token, in one declaration: `wrap` (adminRoute or userRoute)
 * verifies the caller before the handler runs and answers whatever it throws through the one error table
 * (src/http/errors.ts); `contract` (schemas of its parameters, body and answers) puts it in the OpenAPI document.
 */
export const bearerApi =
  <H>(wrap: (deps: () => Promise<AppContext>, handler: H) => HttpFunction['handler']) =>
  (name: string, method: HttpMethod, route: string, contract: Omit<RouteContract, 'auth'>, handler: H): HttpFunction => ({
    kind: 'http',
    name,
    methods: [method],
    route,
    contract: { ...contract, auth: 'bearer' },
    handler: wrap(appContext, handler),
  });
