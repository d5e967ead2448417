import { startTestStack, type TestStack } from '../support/test-stack';

describe('the contract test over stack answers', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  it('serves the OpenAPI document and the message schemas without a token', async () => {
    const doc = await stack.api('openapi.json', { token: null });
    expect(doc.status).toBe(200);
    expect(doc.json.openapi).toBe('3.1.0');
    expect((await stack.api('schemas/product-event.json', { token: null })).json.$id).toBe('/api/schemas/product-event.json');
  });

  it("checks each answer against the document's schema for its operation and status", async () => {
    const before = stack.contract.checked;
    expect((await stack.api('connections')).status).toBe(200);
    expect((await stack.api('connections/not-a-guid')).status).toBe(400);
    expect((await stack.api('processes', { token: null })).status).toBe(401);
    expect(stack.contract.checked).toBe(before + 3);
  });

  it('refuses an answer the document does not describe (the check can fail)', async () => {
    await expect(stack.contract.check('GET', '/api/connections', 200, 'application/json', { connections: [{ id: 'x' }] })).rejects.toThrow(
      /GET \/api\/connections answered 200 with a body its schema refuses/,
    );
    await expect(stack.contract.check('GET', '/api/connections', 418, 'application/json', {})).rejects.toThrow(/does not list/);
    await expect(
      stack.contract.check('GET', '/api/runs', 400, 'application/json', { error: { message: 'old format without a code' } }),
    ).rejects.toThrow(/code/);
  });
});
