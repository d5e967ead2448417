import { CONTOSO_SVC_WORKPOINT } from '../../src/local/identity-provider/directory';
import { authorizeConnection } from '../support/connections';
import { startTestStack, type TestStack } from '../support/test-stack';

const systemProcess = {
  name: 'Intake',
  kind: 'system',
  triggers: [{ event: 'ItemCreated' }],
  steps: [{ id: 'stage', type: 'action', action: 'changeStage', inputs: { stage: 'Received' } }],
};

describe('publishing a system process', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  it('while the tenant has no connection: published, with a warning that its runs will fail', async () => {
    expect((await stack.api('processes/intake', { method: 'PUT', body: systemProcess })).status).toBe(200);
    const res = await stack.api('processes/intake/publish', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ version: 1, warnings: [expect.stringMatching(/no connection.*runs.*fail/i)] });
  });

  it('once the tenant has a connection: no warning', async () => {
    await authorizeConnection(stack, CONTOSO_SVC_WORKPOINT);
    const res = await stack.api('processes/intake/publish', { method: 'POST' });
    expect(res.json).toEqual({ version: 2 });
  });
});
