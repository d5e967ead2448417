import type { AppContext } from '../src/app-context';
import { adminRoute, type AdminHandler } from '../src/http/admin-route';
import { bearerApi } from './bearer-api';

/** Declares an admin API route (under /api): the caller's bearer token and admin role are verified before `handler` runs. */
export const adminApi = bearerApi<AdminHandler<AppContext>>(adminRoute);
