/**
 * The local identity provider's user-facing pages (LOCAL ONLY): the sign-in form (a username, no password), automatic
 * consent (the local registrations are pre-consented, as an admin would do in Entra), and the error page.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { escapeHtml } from '../../shared/escape-html';
import { readBody, sendHtml, sendJson } from '../http-helpers';
import { findUser, LOCAL_PORTAL_CLIENT_ID } from './directory';
import type { InteractionDetails, Provider } from './oidc-provider-types';

function signInPage(action: string, clientName: string, username: string, error?: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in (local identity provider)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box;margin:.4rem 0;font-size:1rem}
input,button{padding:.5rem}.error{color:#b00020}.note{color:#555;font-size:.85rem}</style></head>
<body>
<h1>Sign in</h1>
<p>to ${escapeHtml(clientName)}</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autofocus required value="${escapeHtml(username)}">
<button type="submit" name="action" value="sign-in">Sign in</button>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>
<p class="note">Local identity provider for development and tests: no password is asked.</p>
</body>
</html>`;
}

const EXPIRED_PAGE =
  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign-in expired</title></head><body><h1>This sign-in has expired</h1><p>Start the sign-in again from the application.</p></body></html>';

/** oidc-provider's error page (its `renderError`), every field escaped. */
export function errorPage(out: Record<string, unknown>): string {
  const fields = Object.entries(out)
    .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: ${escapeHtml(String(v))}</p>`)
    .join('');
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body><h1>Sign-in error</h1>${fields}</body></html>`;
}

/**
 * oidc-provider drops `offline_access` (so issues no refresh token) unless `prompt` includes consent,
 * and rejects MSAL's `select_account`; Entra shows an account picker there, a fresh login form here.
 */
export function adaptAuthorizationQuery(params: URLSearchParams): void {
  const prompts = new Set((params.get('prompt') ?? '').split(' ').filter(Boolean));
  if (prompts.delete('select_account')) prompts.add('login');
  if (!prompts.has('none') && (params.get('scope') ?? '').split(' ').includes('offline_access')) prompts.add('consent');
  if (prompts.size) params.set('prompt', [...prompts].join(' '));
  else params.delete('prompt');
}

/** Consent is automatic: the local app registration is pre-consented, as an admin would do in Entra. */
async function consent(provider: Provider, req: IncomingMessage, res: ServerResponse, details: InteractionDetails): Promise<void> {
  const { Grant } = provider;
  const grant = details.grantId
    ? await Grant.find(details.grantId)
    : new Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries<string[]>(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId: string = await grant.save();
  return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
}

/** Serves `/interaction/<uid>`: the sign-in form (GET), its answer (POST), or consent. */
export async function interaction(provider: Provider, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (!/^\/interaction\/[\w-]+$/.test(path)) return sendJson(res, 404, { error: 'not_found' });
  let details: InteractionDetails;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    return sendHtml(res, 400, EXPIRED_PAGE);
  }
  const clientName = String(details.params.client_id) === LOCAL_PORTAL_CLIENT_ID ? 'Connections admin (local)' : 'Connections (local)';

  if (details.prompt.name === 'consent') return consent(provider, req, res, details);
  if (details.prompt.name !== 'login') return sendJson(res, 400, { error: 'unsupported_prompt', prompt: details.prompt.name });

  if (req.method === 'GET') {
    // As in Entra: `prompt=login` shows this form even while the browser has a session (oidc-provider's `login` prompt
    // check; Entra: "forces the user to enter their credentials on that request, negating single-sign on"), and
    // `login_hint` pre-fills the username, which stays editable ("can be used to pre-fill the username/email address field
    // of the sign-in page", MSAL `loginHint`; OIDC Core 3.1.2.1). Re-authorize relies on both (sign-in-flow.ts).
    return sendHtml(res, 200, signInPage(path, clientName, String(details.params.login_hint ?? '')));
  }
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'method_not_allowed' });
  const form = new URLSearchParams(await readBody(req, 1 << 20));
  if (form.get('action') === 'cancel') {
    return provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'The user cancelled the sign-in.' },
      { mergeWithLastSubmission: false },
    );
  }
  const username = form.get('username') ?? '';
  const user = findUser(username);
  if (!user) {
    return sendHtml(res, 200, signInPage(path, clientName, username, `No account named "${username}" in the local directory.`));
  }
  return provider.interactionFinished(req, res, { login: { accountId: user.objectId } }, { mergeWithLastSubmission: false });
}
