import type { HttpMethod } from '@azure/functions';
import { appContext, type AppContext } from '../src/app-context';
import type { RouteContract } from '../src/http/api-contract';
import { userRoute, type UserHandler } from '../src/http/user-route';
import type { HttpFunction } from './registry';

/**
 * Declares a user API route (under /api): any user of a registered tenant with a verified token for this API; no
 * admin role needed. Whatever `handler` throws is answered through the one error table (src/http/errors.ts), and
 * `contract` puts it in the OpenAPI document, as for admin routes.
 */
export const userApi = (
  name: string,
  method: HttpMethod,
  route: string,
  contract: Omit<RouteContract, 'auth'>,
  handler: UserHandler<AppContext>,
): HttpFunction => ({
  kind: 'http',
  name,
  methods: [method],
  route,
  contract: { ...contract, auth: 'bearer' },
  handler: userRoute(appContext, handler),
});
