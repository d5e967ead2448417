import { RestError } from '@azure/data-tables';
import { statusOf } from '../../src/adapters/tables';

// statusOf recognizes storage errors the way the SDK's isRestError does (by class or by the name "RestError"), so
// src/adapters/tables.ts need not load the SDK before the first table is used (the cold start).
describe('statusOf', () => {
  test("answers the status of the SDK's RestError", () => {
    expect(statusOf(new RestError('conflict', { statusCode: 409 }))).toBe(409);
    expect(statusOf(new RestError('precondition failed', { statusCode: 412 }))).toBe(412);
  });

  test('answers nothing for other errors and for look-alikes that are not Errors', () => {
    expect(statusOf(new RestError('no response'))).toBeUndefined();
    expect(statusOf(Object.assign(new Error('x'), { statusCode: 409 }))).toBeUndefined();
    expect(statusOf({ name: 'RestError', statusCode: 409 })).toBeUndefined();
    expect(statusOf(undefined)).toBeUndefined();
  });
});
