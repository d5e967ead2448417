import type { User } from './user';

/**
 * The administrator behind an admin API call: a user whose verified access token carries the admin app role
 * (src/http/admin-auth.ts). `tenantId` scopes everything the call may touch; `username` goes into audits.
 */
export type Admin = User;
