/**
 * LOCAL ONLY. The Graph stand-in's permission model, which makes a process step's elevation visible locally:
 * - every account of the tenant reads and writes ordinary list items;
 * - only accounts holding the local directory's service-account role (SERVICE_ACCOUNT_ROLE, the role
 *   CONNECTION_ACCOUNT_ROLE names for sign-ins) may change the `Stage` field; others get Graph's 403 `accessDenied`
 *   ("The caller doesn't have permission to perform the action", learn.microsoft.com/graph/errors), and nothing of
 *   their request is written;
 * - lists whose id starts with `restricted` exist only for service accounts: others get 404 `itemNotFound` for reads and
 *   writes alike, as SharePoint trims what a caller may not see and Graph answers such requests with itemNotFound
 *   (SharePoint/sp-dev-docs#8679: "item not found" for a user without access; microsoftgraph/msgraph-sdk-dotnet#2584).
 * In SharePoint these would be list, item and column permissions; here they follow the account's role alone.
 */
import { graphError, type GraphAccount } from './graph-token-check';
import { findUserByObjectId, SERVICE_ACCOUNT_ROLE } from './identity-provider/directory';

/** The field only service accounts may change (the product's "Change stage"). */
export const STAGE_FIELD = 'Stage';
export const RESTRICTED_LIST_PREFIX = 'restricted';

export const isServiceAccount = (account: GraphAccount): boolean =>
  findUserByObjectId(account.objectId)?.signInAppRoles.includes(SERVICE_ACCOUNT_ROLE) ?? false;

/** Throws Graph's answer when `account` may not see the list, or may not write `fields` (when given) in it. */
export function checkItemAccess(account: GraphAccount, listId: string, fields?: readonly string[]): void {
  if (isServiceAccount(account)) return;
  if (listId.startsWith(RESTRICTED_LIST_PREFIX)) throw graphError(404, 'itemNotFound', 'The resource could not be found.');
  if (fields?.includes(STAGE_FIELD)) {
    throw graphError(
      403,
      'accessDenied',
      `The caller does not have permission to perform the action: only service accounts may change '${STAGE_FIELD}'.`,
    );
  }
}
