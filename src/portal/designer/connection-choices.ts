import type { Choice } from './controls';
import type { EditorState } from './editor-state';

/**
 * Choices for Execute as / Run as: the implicit choice first, then every connection with its account. A connection
 * that needs re-authorization cannot be published: it stays visible when already chosen, so the draft shows what it
 * says. A chosen connection that no longer exists is named by its last known name.
 */
export function connectionChoices(state: EditorState, implicit: string, chosen: string | undefined): Choice[] {
  const options: Choice[] = [{ value: '', text: implicit }];
  for (const c of state.connections) {
    const stale = c.status === 'needs_reauth';
    options.push({
      value: c.id,
      text: `${c.displayName} (${c.account.username})${stale ? ' — needs re-authorization, cannot be published' : ''}`,
      disabled: stale && c.id !== chosen,
    });
  }
  if (chosen && !state.connections.some((c) => c.id === chosen)) {
    const gone = state.deletedNames.get(chosen);
    options.push({ value: chosen, text: gone ? `${gone} — deleted, choose another connection` : 'A connection that no longer exists' });
  }
  return options;
}
