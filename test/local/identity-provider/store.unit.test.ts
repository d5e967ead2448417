/** The local provider's storage revokes what a grant issued, and nothing else (oidc-provider's memory adapter does the same). */
import { createStore } from '../../../src/local/identity-provider/store';

test("revoking a grant deletes its tokens but keeps an interaction that carries the grant's id (switching accounts resumes it)", async () => {
  const { Adapter } = createStore();
  type Model = {
    upsert(id: string, payload: object): Promise<void>;
    find(id: string): Promise<unknown>;
    revokeByGrantId(grantId: string): Promise<void>;
  };
  const tokens = new Adapter('AccessToken') as Model;
  const interactions = new Adapter('Interaction') as Model;
  await tokens.upsert('t1', { grantId: 'g1', uid: 't1' });
  await interactions.upsert('i1', { grantId: 'g1', uid: 'i1' });
  await tokens.revokeByGrantId('g1');
  expect(await tokens.find('t1')).toBeUndefined();
  expect(await interactions.find('i1')).toEqual({ grantId: 'g1', uid: 'i1' });
});
