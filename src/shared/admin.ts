/**
 * The administrator behind an admin API call, as the verified access token names them (src/http/admin-auth.ts).
 * `tenantId` scopes everything the call may touch; `username` goes into audits.
 */
export interface Admin {
  tenantId: string;
  objectId: string;
  username: string;
}
