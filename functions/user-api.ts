import type { AppContext } from '../src/app-context';
import { userRoute, type UserHandler } from '../src/http/user-route';
import { bearerApi } from './bearer-api';

/**
 * Declares a user API route (under /api): any user of a registered tenant with a verified token for this API; no
 * admin role needed. Errors and the OpenAPI contract as for admin routes (bearer-api.ts).
 */
export const userApi = bearerApi<UserHandler<AppContext>>(userRoute);
