import type { HttpMethod } from '@azure/functions';
import { appContext, type AppContext } from '../src/app-context';
import { adminRoute, type AdminHandler } from '../src/http/admin-route';
import type { HttpFunction } from './registry';

/**
 * Declares an admin API route (under /api): the caller's bearer token is verified before `handler` runs, and
 * whatever it throws is answered through the one error table (src/http/errors.ts).
 */
export const adminApi = (name: string, method: HttpMethod, route: string, handler: AdminHandler<AppContext>): HttpFunction => ({
  kind: 'http',
  name,
  methods: [method],
  route,
  handler: adminRoute(appContext, handler),
});
