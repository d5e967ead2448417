import { ApiError, referencesIn, usageLines, type Connection, type ConnectionsApi } from '../api';
import { h, replaceChildren } from '../dom';
import { announce, messageOf } from '../notices';

export interface DeleteContext {
  api: ConnectionsApi;
  handleAuthError(e: unknown): boolean;
  /** The page's one <dialog> for this (modal: Escape closes it, focus returns to the button that opened it). */
  dialog: HTMLDialogElement;
  /** A step as people know it, when the page knows its process. */
  stepName(processId: string, stepId: string): string | undefined;
  /** After a delete: reads the list again and puts focus somewhere that still exists. */
  deleted(): Promise<void>;
}

/** What deleting does in Key Vault, as it is: a soft-deleted secret keeps its versions until it is purged. */
export const VAULT_TRUTH =
  "Key Vault keeps a deleted secret, older versions included, for its retention period (purge protection forbids purging it sooner): until then those versions still hold the account's refresh token. Revoking the account's sign-in sessions makes that token useless now.";

/** A modal confirm; a 409 answer (processes use the connection) shows their list and asks again before forcing. */
export function confirmDelete(ctx: DeleteContext, c: Connection, opener: HTMLButtonElement): void {
  const { api, dialog } = ctx;
  const close = () => {
    dialog.close();
  };
  dialog.onclose = () => {
    if (document.contains(opener)) opener.focus();
  };
  // Kept across the 409 round: the choice made in the first dialog still holds for "Delete anyway".
  const revoke = h('input', { type: 'checkbox', id: 'delete-revoke-sessions' });
  const show = (usage?: string[]) => {
    const confirmButton = h('button', { type: 'button', className: 'danger' }, usage ? 'Delete anyway' : 'Delete');
    const cancelButton = h('button', { type: 'button', onclick: close }, 'Cancel');
    confirmButton.addEventListener('click', async () => {
      confirmButton.disabled = true;
      try {
        await api.remove(c.id, { force: usage !== undefined, revokeSessions: revoke.checked });
        close();
        announce(
          `Deleted “${c.displayName}”.${revoke.checked ? ` The sign-in sessions of ${c.account.username} were revoked.` : ''} ${VAULT_TRUTH}`,
          'success',
        );
        await ctx.deleted();
      } catch (e) {
        if (e instanceof ApiError && e.status === 409 && usage === undefined && referencesIn(e.body)) {
          show(usageLines(referencesIn(e.body) ?? [], ctx.stepName));
          return;
        }
        if (e instanceof ApiError && e.status === 409 && usage === undefined && !revoke.checked) {
          // The 409 names the processes; if it does not, ask the usage endpoint.
          const references = referencesIn(await api.usage(c.id).catch(() => undefined)) ?? [];
          show(usageLines(references, ctx.stepName));
          return;
        }
        close();
        if (!ctx.handleAuthError(e)) announce(`“${c.displayName}” could not be deleted: ${messageOf(e)}`, 'error');
      }
    });
    replaceChildren(
      dialog,
      h('h2', { id: 'delete-dialog-title' }, `Delete “${c.displayName}”?`),
      usage
        ? [
            h('p', {}, `“${c.displayName}” (${c.account.username}) is used by these processes:`),
            usage.length ? h('ul', { className: 'usage' }, ...usage.map((u) => h('li', {}, u))) : h('p', {}, 'The API did not list them.'),
            h('p', {}, 'If you delete it anyway, their steps that run as it fail until they are changed to another connection.'),
          ]
        : h(
            'p',
            { id: 'delete-dialog-text' },
            `Processes can no longer run as this connection. Its stored sign-in (${c.account.username}) is overwritten in Key Vault and the secret deleted. `,
            VAULT_TRUTH,
          ),
      h(
        'div',
        { className: 'field checkbox' },
        revoke,
        h('label', { for: 'delete-revoke-sessions' }, "Also revoke the account's sign-in sessions"),
        h(
          'p',
          { className: 'hint', id: 'delete-revoke-hint' },
          `Ends every refresh token of ${c.account.username} at Microsoft Entra now, including the one in older secret versions (other apps it signed in to must sign in again).`,
        ),
      ),
      h('div', { className: 'dialog-actions' }, cancelButton, confirmButton),
    );
    revoke.setAttribute('aria-describedby', 'delete-revoke-hint');
    if (!dialog.open) dialog.showModal();
    cancelButton.focus();
  };
  show();
}
