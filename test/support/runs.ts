import type { RunView } from '../../src/runs/run';
import type { TestStack } from './test-stack';

/** A run as `GET runs/{id}` and `GET runs` answer it (contract). */
export type { RunView };

/** The subject every test event is about (the Graph stand-in accepts any). */
export const testSubject = { siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId: '7' };

/** POSTs a product event, expects 202, waits until the bus has handled everything it caused; answers the event id. */
export async function postEvent(
  stack: TestStack,
  type: string,
  data: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await stack.api('events', { method: 'POST', body: { type, subject: testSubject, data, ...extra } });
  if (res.status !== 202) throw new Error(`POST events answered ${res.status}: ${res.text}`);
  await stack.bus.idle();
  return res.json.id as string;
}

/** A process's runs, newest first. */
export async function runsOf(stack: TestStack, processId: string): Promise<RunView[]> {
  const res = await stack.api(`runs?processId=${processId}`);
  if (res.status !== 200) throw new Error(`GET runs answered ${res.status}`);
  return res.json.runs as RunView[];
}

export async function latestRun(stack: TestStack, processId: string): Promise<RunView> {
  const [latest] = await runsOf(stack, processId);
  if (!latest) throw new Error(`process ${processId} has no run`);
  const res = await stack.api(`runs/${latest.id}`);
  if (res.status !== 200) throw new Error(`GET runs/${latest.id} answered ${res.status}`);
  return res.json as RunView;
}

/** Saves a draft and publishes it; answers the published version. Refusals throw with the API's errors. */
export async function saveAndPublish(stack: TestStack, id: string, body: unknown): Promise<number> {
  const saved = await stack.api(`processes/${id}`, { method: 'PUT', body });
  if (saved.status !== 200) throw new Error(`PUT processes/${id} answered ${saved.status}: ${saved.text}`);
  const published = await stack.api(`processes/${id}/publish`, { method: 'POST' });
  if (published.status !== 200) throw new Error(`publish ${id} answered ${published.status}: ${published.text}`);
  return published.json.version as number;
}
