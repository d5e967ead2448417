import { h } from '../dom';
import { announce, messageOf } from '../notices';
import { labelled } from './controls';
import type { DesignerUi, EditorContext } from './editor-state';

/** For a user process: start the published version on an item, as the signed-in person. */
export function runSection(ui: DesignerUi, ctx: EditorContext): HTMLElement {
  const { state } = ui;
  const published = state.current?.published;
  const inputs = (['siteId', 'listId', 'itemId'] as const).map((k) =>
    h('input', {
      id: `run-${k}`,
      type: 'text',
      required: true,
      'data-path': `subject.${k}`,
      placeholder: k === 'siteId' ? 'contoso.sharepoint.com,site-1' : '',
    }),
  );
  const form = h(
    'form',
    { className: 'run-form', id: 'run-form', 'aria-labelledby': 'run-form-heading' },
    h('h3', { id: 'run-form-heading' }, 'Run this process'),
    h(
      'p',
      { className: 'muted' },
      published
        ? `Starts version ${published.version} on an item, as you.`
        : 'Publish the process first: a run executes the published version.',
    ),
    h(
      'div',
      { className: 'inline-fields' },
      labelled('run-siteId', 'Site id', inputs[0]),
      labelled('run-listId', 'List id', inputs[1]),
      labelled('run-itemId', 'Item id', inputs[2]),
    ),
    h('button', { type: 'submit', id: 'run-process', disabled: !published }, 'Run'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const [siteId, listId, itemId] = inputs.map((x) => x.value.trim());
    try {
      const { runId } = await ctx.api.startRun(state.id, { siteId, listId, itemId });
      announce(`Run ${runId} started. Follow it on the Runs tab.`, 'success');
      ctx.showRuns(state.id);
    } catch (err) {
      if (!ctx.handleAuthError(err)) announce(`The run could not be started: ${messageOf(err)}`, 'error');
    }
  });
  return form;
}
