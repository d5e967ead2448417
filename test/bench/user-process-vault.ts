/**
 * user_process_vault: Key Vault calls per user-process run (issue 13). Each run is started on an item by
 * user@contoso.test through the API, waits for its form, is submitted and runs a step as the user (On-Behalf-Of)
 * and an elevated step as a connection. The user's token is kept between those calls in a Table row encrypted
 * under one data key (`user-session-key`), so a run costs the vault nothing once an instance has the key: the
 * target is 0 calls per run after the first (which creates the key: a read and a write), far under Key Vault's
 * ~300 writes per 10 s per vault that a secret per run would spend. The connection's token comes from the broker's
 * memory (one vault read for the connection, in the first run).
 */
import { performance } from 'node:perf_hooks';
import { CONTOSO_SVC_APPROVALS, CONTOSO_USER } from '../../src/local/identity-provider/directory';
import { mintLocalToken } from '../../src/local/identity-provider/launch';
import { authorizeConnection, listConnections } from '../support/connections';
import { saveAndPublish } from '../support/runs';
import type { TestStack } from '../support/test-stack';
import { note, round, scaled, type Figure } from './harness';

export async function userProcessVault(stack: TestStack): Promise<Figure> {
  // The bench's stack is shared: an earlier figure (token_calls) may have made this account a connection already, and
  // an account is a connection once per tenant (a second sign-in is refused).
  const existing = (await listConnections(stack)).find((c) => c.account.objectId === CONTOSO_SVC_APPROVALS.objectId);
  const approvals = existing ?? (await authorizeConnection(stack, CONTOSO_SVC_APPROVALS, 'Bench approvals'));
  await saveAndPublish(stack, 'bench-user-process', {
    name: 'Bench user process',
    kind: 'user',
    steps: [
      { id: 'details', type: 'form', fields: [{ name: 'comment', label: 'Comment', type: 'text', required: true }] },
      { id: 'note', type: 'action', action: 'updateFields', inputs: { fields: { Comment: '{{form.details.comment}}' } } },
      { id: 'stage', type: 'action', action: 'changeStage', inputs: { stage: 'Approved' }, permissions: { executeAs: approvals.id } },
    ],
  });
  const subject = { siteId: 'contoso.sharepoint.com,site-1', listId: 'bench', itemId: '1' };
  stack.graph.items.set(`${subject.siteId}/${subject.listId}/${subject.itemId}`, { Title: 'Bench' });
  const token = (await mintLocalToken(stack.identityProvider.url, { username: CONTOSO_USER.username })).access_token;
  stack.secretsSeen.set(token, 'user access token');

  const runs = scaled(50, 5);
  const perRun: number[] = [];
  const started = performance.now();
  note(`user_process_vault: ${runs} user runs (start, form, submit, a step as the user, an elevated step)`);
  for (let i = 0; i < runs; i++) {
    const before = stack.vault.requests.length;
    const start = await stack.api('processes/bench-user-process/runs', { method: 'POST', token, body: { subject } });
    if (start.status !== 202) throw new Error(`start answered ${start.status}: ${start.text}`);
    await stack.bus.idle();
    const submitted = await stack.api(`runs/${start.json.runId}/steps/details/submit`, {
      method: 'POST',
      token,
      body: { values: { comment: `run ${i}` } },
    });
    if (submitted.status !== 202) throw new Error(`submit answered ${submitted.status}: ${submitted.text}`);
    await stack.bus.idle();
    const run = await stack.api(`runs/${start.json.runId}`, { token });
    if (run.json?.status !== 'succeeded') throw new Error(`run ${i} ended ${run.json?.status}: ${run.text}`);
    perRun.push(stack.vault.requests.length - before);
  }
  const later = perRun.slice(1);
  return {
    name: 'user_process_vault',
    runs,
    vault_calls_first_run: perRun[0],
    vault_calls_per_later_run: round(later.reduce((a, b) => a + b, 0) / Math.max(1, later.length), 3),
    target_per_later_run: 0,
    runs_per_second: round(runs / ((performance.now() - started) / 1000), 1),
  };
}
