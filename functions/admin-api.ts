import type { HttpMethod } from '@azure/functions';
import { appContext, type AppContext } from '../src/app-context';
import { adminRoute, type AdminHandler } from '../src/http/admin-route';
import type { RouteContract } from '../src/http/api-contract';
import type { HttpFunction } from './registry';

/**
 * Declares an admin API route (under /api) in one declaration: the caller's bearer token is verified before `handler`
 * runs, whatever it throws is answered through the one error table (src/http/errors.ts), and `contract` (schemas of
 * its parameters, body and answers) puts it in the OpenAPI document.
 */
export const adminApi = (
  name: string,
  method: HttpMethod,
  route: string,
  contract: Omit<RouteContract, 'auth'>,
  handler: AdminHandler<AppContext>,
): HttpFunction => ({
  kind: 'http',
  name,
  methods: [method],
  route,
  contract: { ...contract, auth: 'bearer' },
  handler: adminRoute(appContext, handler),
});
