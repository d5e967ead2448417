/**
 * Why a connection needs re-authorization, in an administrator's words. The API's `statusReason` is written for
 * logs ("The connection's sign-in is no longer valid: invalid_grant (AADSTS70008). Re-authorize the connection."); the
 * page leads with what happened and keeps the protocol code as a detail for support.
 */
const BY_AADSTS: Record<number, string> = {
  50173: "The account's password or credentials changed, or its sessions were revoked, so its sign-in was ended.",
  700082: 'The sign-in expired because nothing used it for 90 days.',
  70008: 'The sign-in expired or was revoked in Microsoft Entra ID.',
  65001: 'The permissions the app needs are no longer granted (consent was removed).',
  50076: 'The account now has to complete multi-factor authentication.',
  50079: 'The account now has to register for multi-factor authentication.',
  50078: "The account's multi-factor authentication has expired.",
  53003: 'A Conditional Access policy now blocks this sign-in.',
  500014: 'The app is disabled in this organization.',
  50057: 'The account is disabled.',
  50126: "The account's credentials are no longer valid.",
  700084: 'The sign-in reached its maximum lifetime.',
};

const BY_CODE: Record<string, string> = {
  invalid_grant: 'The sign-in is no longer valid: it was revoked, expired, or the password changed.',
  interaction_required: 'Microsoft needs the account to sign in again interactively.',
  consent_required: 'The permissions the app needs are no longer granted.',
  login_required: 'Microsoft needs the account to sign in again.',
  no_tokens_found: 'No stored sign-in was found for this connection.',
  no_account_found: 'No stored sign-in was found for this connection.',
  bad_token: 'The stored sign-in could not be read.',
};

export interface StatusWords {
  /** What happened, in plain words. */
  text: string;
  /** The protocol code, for support ("invalid_grant, AADSTS70008"), when the reason named one. */
  code?: string;
}

export function statusReasonInWords(reason: string | undefined): StatusWords {
  if (!reason) return { text: 'The connection needs its account to sign in again.' };
  const aadsts = /AADSTS(\d+)/.exec(reason)?.[1];
  const code = /\b(invalid_grant|interaction_required|consent_required|login_required|no_tokens_found|no_account_found|bad_token)\b/.exec(
    reason,
  )?.[1];
  const text = (aadsts && BY_AADSTS[Number(aadsts)]) ?? (code && BY_CODE[code]);
  const codes = [code, aadsts && `AADSTS${aadsts}`].filter(Boolean).join(', ');
  if (text) return { text, ...(codes ? { code: codes } : {}) };
  // A reason the page has no words for is still the app's own sentence (never token material): show it as is.
  return { text: reason };
}

const dayMs = 24 * 3600_000;
export const REAUTHORIZE_WARNING_DAYS = 14;

/** Days until `reauthorizeBy` (negative when past), and whether that is close enough to warn. */
export function reauthorizeUrgency(reauthorizeBy: string, now = Date.now()): { days: number; warn: boolean } {
  const days = Math.floor((Date.parse(reauthorizeBy) - now) / dayMs);
  return { days, warn: days < REAUTHORIZE_WARNING_DAYS };
}
