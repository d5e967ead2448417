/**
 * The product's event types (contract). Process triggers name them, so they sit with the process definitions;
 * the event schema (src/events/product-event.ts) builds on them.
 */
export const eventTypes = ['ItemCreated', 'ItemUpdated', 'EntityCreated', 'EntityUpdated', 'StageChanged'] as const;
export type EventType = (typeof eventTypes)[number];
