import { startTestStack, type TestStack } from '../support/test-stack';

const subject = { siteId: 'contoso.sharepoint.com,site-1', listId: 'list-1', itemId: '7' };

describe('POST /api/events says how many published processes the event matched', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
    const process = {
      name: 'Contracts',
      kind: 'system',
      triggers: [{ event: 'ItemCreated', conditions: [{ path: 'event.data.contentType', op: 'eq', value: 'Contract' }] }],
      steps: [{ id: 'stage', type: 'action', action: 'changeStage', inputs: { stage: 'Received' } }],
    };
    expect((await stack.api('processes/contracts', { method: 'PUT', body: process })).status).toBe(200);
    expect((await stack.api('processes/contracts/publish', { method: 'POST' })).status).toBe(200);
  });
  afterAll(() => stack?.stop());

  it.each([
    ['an event no trigger names', { type: 'ItemUpdated', subject, data: { contentType: 'Contract' } }, 0],
    ["an event whose trigger's conditions do not hold", { type: 'ItemCreated', subject, data: { contentType: 'Invoice' } }, 0],
    ['an event the process is triggered by', { type: 'ItemCreated', subject, data: { contentType: 'Contract' } }, 1],
  ])('%s: matched %i', async (_name, body, matched) => {
    const res = await stack.api('events', { method: 'POST', body });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ id: expect.any(String), queued: true, matched });
  });
});
