import { ActionError } from '../actions/action';
import { graphPath, graphRequest, resolveGraphUrl } from '../actions/graph-client';
import { isDeadGrant } from '../tokens/token-errors';
import type { ItemRef } from './run';

/**
 * The user's read check: reading a list item with the user's own Graph token (On-Behalf-Of). Elevation lifts the
 * permissions of one step, never the user's view of items: a user process starts only on an item its user can open,
 * and an elevated step that addresses another item runs only if the user can open that one too.
 */
export type ReadCheck = 'open' | 'hidden';

/** Reads `item` with `token`: `hidden` when Graph answers 403 or 404; other failures are thrown (ActionError). */
export async function readCheck(r: {
  graphBaseUrl: string;
  token: string;
  item: ItemRef;
  idempotencyKey: string;
  fetch?: typeof fetch;
}): Promise<ReadCheck> {
  try {
    await graphRequest({
      graphBaseUrl: r.graphBaseUrl,
      accessToken: r.token,
      method: 'GET',
      path: graphPath`/sites/${r.item.siteId}/lists/${r.item.listId}/items/${r.item.itemId}`,
      idempotencyKey: r.idempotencyKey,
      ...(r.fetch ? { fetch: r.fetch } : {}),
    });
    return 'open';
  } catch (e) {
    if (e instanceof ActionError && (e.status === 403 || e.status === 404)) return 'hidden';
    throw e;
  }
}

export const cannotOpenAddressedItemMessage =
  'The user who started this run cannot open the item this step addresses; a step that runs as a connection never reaches items hidden from its user.';

/**
 * The list item a rendered `graphRequest` of a step addresses (`/sites/{s}/lists/{l}/items/{i}...`) when it is not
 * the run's subject; undefined for any other request. Segments are compared decoded, as Graph reads them.
 */
export function otherItemAddressed(
  graphBaseUrl: string,
  action: string,
  inputs: Record<string, unknown>,
  subject: ItemRef,
): ItemRef | undefined {
  if (action !== 'graphRequest' || typeof inputs.path !== 'string') return undefined;
  let pathname: string;
  try {
    pathname = resolveGraphUrl(graphBaseUrl, inputs.path).pathname;
  } catch {
    return undefined; // refused when sent
  }
  const base = new URL(graphBaseUrl).pathname.replace(/\/$/, '');
  const segments = pathname.slice(base.length).replace(/^\//, '').split('/').map(safeDecode);
  const [sites, siteId, lists, listId, items, itemId] = segments;
  const is = (s: string | undefined, name: string) => s?.toLowerCase() === name;
  if (!is(sites, 'sites') || !is(lists, 'lists') || !is(items, 'items') || !siteId || !listId || !itemId) return undefined;
  const item = { siteId, listId, itemId };
  const same = item.siteId === subject.siteId && item.listId === subject.listId && item.itemId === subject.itemId;
  return same ? undefined : item;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** How the read check of an item an elevated step addresses ended. */
export type AddressedItemCheck =
  | { kind: 'open' }
  | { kind: 'hidden' }
  /** The user's session is over: the run waits for them. */
  | { kind: 'session-ended'; reason: string }
  /** Getting the user's token or reading the item failed otherwise (classified like the step's own failures). */
  | { kind: 'failed'; error: unknown; during: 'token' | 'action' };

/** The read check of `item` with the user's own token (`userToken`: their On-Behalf-Of token for the run). */
export async function checkAddressedItem(
  userToken: () => Promise<string>,
  r: { graphBaseUrl: string; item: ItemRef; idempotencyKey: string },
): Promise<AddressedItemCheck> {
  let token: string;
  try {
    token = await userToken();
  } catch (e) {
    if (isDeadGrant(e)) return { kind: 'session-ended', reason: e.failure.reason };
    return { kind: 'failed', error: e, during: 'token' };
  }
  try {
    return { kind: await readCheck({ ...r, token }) };
  } catch (e) {
    return { kind: 'failed', error: e, during: 'action' };
  }
}
