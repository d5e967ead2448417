import type { ProductEvent } from '../../src/events/product-event';
import type { Run, StepRecord, StepStatus } from '../../src/runs/run';

/** The tenant and run the pure tests build on (any valid ids: nothing is stored). */
export const builtTenantId = '11111111-1111-4111-8111-111111111111';
export const builtRunId = '8265000000000-0123456789abcdef';

/** A product event as the events API accepts it; `over` replaces any part. */
export function productEvent(over: Partial<ProductEvent> = {}): ProductEvent {
  return {
    id: 'evt-1',
    type: 'ItemCreated',
    tenantId: builtTenantId,
    occurredAt: '2025-03-01T11:59:00.000Z',
    subject: { siteId: 'contoso.sharepoint.com,site-1', listId: 'contracts', itemId: '42' },
    data: {},
    ...over,
  };
}

/**
 * A running system run with one step per status (`step-0`, `step-1`, ...; a started step has one attempt); `over`
 * replaces any part of the run.
 */
export function runRecord(statuses: StepStatus[], over: Partial<Run> = {}): Run {
  const event = over.event ?? productEvent();
  return {
    id: builtRunId,
    tenantId: builtTenantId,
    kind: 'system',
    processId: 'nda',
    processVersion: 1,
    event,
    subject: event.subject,
    status: 'running',
    createdAt: '2025-03-01T11:59:30.000Z',
    steps: statuses.map((status, i): StepRecord => ({
      id: `step-${i}`,
      action: 'sendMail',
      status,
      attempts: status === 'pending' ? 0 : 1,
    })),
    ...over,
  };
}
