import type { Connection, ConnectionsApi } from '../api';
import { h, replaceChildren } from '../dom';
import { announce, messageOf } from '../notices';

export interface RenameContext {
  api: ConnectionsApi;
  handleAuthError(e: unknown): boolean;
  /** What the name cell shows when not editing. */
  nameContent(c: Connection): HTMLElement[];
  /** After a rename: reads the list again and focuses the row's Rename button. */
  renamed(c: Connection): Promise<void>;
}

/** Turns the name cell into a small form (Escape or Cancel puts it back and returns focus to Rename). */
export function startRename(ctx: RenameContext, c: Connection, cell: HTMLElement, opener: HTMLButtonElement): void {
  const { api } = ctx;
  const inputId = `rename-${c.id}`;
  const input = h('input', { id: inputId, type: 'text', value: c.displayName, maxlength: 128, required: true });
  const cancel = () => {
    replaceChildren(cell, ...ctx.nameContent(c));
    opener.focus();
  };
  const form = h(
    'form',
    { className: 'rename' },
    h('label', { for: inputId, className: 'visually-hidden' }, `New name for ${c.displayName}`),
    input,
    h('button', { type: 'submit' }, 'Save'),
    h('button', { type: 'button', onclick: cancel }, 'Cancel'),
  );
  form.addEventListener('keydown', (e: KeyboardEvent) => {
    if (e.key === 'Escape') cancel();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) return input.focus();
    if (name === c.displayName) return cancel();
    try {
      await api.rename(c.id, name);
      announce(`Renamed “${c.displayName}” to “${name}”.`, 'success');
      await ctx.renamed(c);
    } catch (err) {
      if (!ctx.handleAuthError(err)) announce(`The connection could not be renamed: ${messageOf(err)}`, 'error');
    }
  });
  replaceChildren(cell, form);
  input.focus();
  input.select();
}
