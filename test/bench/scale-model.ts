/**
 * scale_model: what one deployment sustains and which limit breaks first, computed from per-step costs measured here.
 *
 * Measured: product events go onto `workpoint-events` of the local stack and run end to end (events-process ->
 * EventProcessor -> a run of STEPS action steps, each through steps-run and StepRunner), after a warm-up that fills
 * the instance's caches. During the measured events every Azure Tables operation (TableClient methods, entities
 * counted: a transaction of 3 rows is 3), every Service Bus message sent, every Graph call, vault read/write and
 * token-endpoint call is counted, and divided by the steps run. The per-connection token costs come from the same
 * stack: a warm instance pays nothing per step; each instance pays one vault read per connection per access-token
 * lifetime, and each refresh one token call and one vault write (token_calls measures exactly 1/1/1).
 *
 * Modelled: a fleet of N tenants x M connections x S steps per tenant per day, with the busiest hour carrying
 * PEAK_HOUR_SHARE of a day and the busiest connection BUSIEST_CONNECTION_SHARE of its tenant's steps. Each limit's
 * headroom = limit / load at that peak (below 1 = throttled). Limits and their sources: `limits` below (README
 * "Performance", "Scale model").
 */
import { randomUUID } from 'node:crypto';
import { queueNames } from '../../src/config/queues';
import { CONTOSO_ADMIN, CONTOSO_SVC_WORKPOINT, TENANT_A } from '../../src/local/identity-provider/directory';
import { getTokenStats, resetTokenStats } from '../../src/local/identity-provider/launch';
import type { ProcessBody } from '../../src/processes/process-definition';
import { MsalClients } from '../../src/tokens/msal-clients';
import type { TestStack } from '../support/test-stack';
import { adminOf, note, round, savePublished, scaled, signInCache, storeSignedInConnection, type Figure } from './harness';

const STEPS = 4;

/** Documented limits (checked 2026-11-28; each says where). */
export const limits = {
  // learn.microsoft.com/azure/key-vault/general/service-limits: "Secrets, managed storage account keys, and vault
  // transactions: all transactions 4,000 per 10 seconds, per vault per region"; subscription-wide 5x that.
  keyVaultTransactionsPer10s: 4000,
  // learn.microsoft.com/azure/storage/tables/scalability-targets: "target throughput for a single table partition
  // (1 KiB entities): up to 2,000 entities per second"; "maximum request rate per storage account: 20,000
  // transactions per second".
  tablePartitionEntitiesPerS: 2000,
  tableAccountTransactionsPerS: 20000,
  // learn.microsoft.com/azure/service-bus-messaging/service-bus-throttling: Standard tier, credit-based throttling,
  // "1,000 credits per second (per namespace)"; a data operation (send, receive, peek) costs 1 credit per message.
  serviceBusStandardCreditsPerS: 1000,
  // learn.microsoft.com/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online:
  // user limits "3,000 requests per 5 minutes" per user (all apps acting for that account: one service account);
  // per app per tenant "1,200 resource units per minute" for 0-1k licenses (the smallest tenants), Graph list item
  // create/update = 2 resource units.
  graphRequestsPerUserPerS: 3000 / 300,
  graphResourceUnitsPerAppPerTenantPerMin: 1200,
  graphResourceUnitsPerWrite: 2,
  // learn.microsoft.com/graph/throttling-limits: global "130,000 requests per 10 seconds" per app across all tenants.
  graphRequestsPerAppPer10s: 130000,
  // Entra publishes no number for refresh-token grants; it throttles apps that call the token endpoint "too
  // frequently" (learn.microsoft.com/entra/msal/dotnet/advanced/client-and-server-throttling, AADSTS50196). The
  // model prints the rate, one call per connection per token lifetime, without a headroom.
};

/** How the day's work is shaped (assumptions, printed with the figure). */
const PEAK_HOUR_SHARE = 0.2; // a fifth of a day's steps in its busiest hour (an office day)
const BUSIEST_CONNECTION_SHARE = 0.5; // the tenant's default connection runs half of its steps
const ACCESS_TOKEN_LIFETIME_S = 3600; // Entra's default access-token lifetime is 60-90 minutes: 1 h is the worse case
// One instance runs host.json's maxConcurrentSessions (8) steps at a time; a step takes Graph's ~100 ms plus three
// Table round trips (~10 ms each in Azure): about 8 / 0.13 s = 60 steps/s per instance.
const STEPS_PER_INSTANCE_S = 60;

const fleets = [
  { label: 'small', tenants: 50, connectionsPerTenant: 3, stepsPerTenantPerDay: 2_000 },
  { label: 'reference', tenants: 500, connectionsPerTenant: 5, stepsPerTenantPerDay: 20_000 },
  { label: 'large', tenants: 5_000, connectionsPerTenant: 10, stepsPerTenantPerDay: 50_000 },
  { label: 'one busy tenant', tenants: 1, connectionsPerTenant: 5, stepsPerTenantPerDay: 200_000 },
];

type Costs = {
  tableEntitiesPerStep: number;
  tableTransactionsPerStep: number;
  serviceBusCreditsPerStep: number;
  graphCallsPerStep: number;
};

/** Counts what the TableClient does in this process, the SDK's CommonJS module the app requires. */
function countTables() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { TableClient } = require('@azure/data-tables') as typeof import('@azure/data-tables');
  const proto = TableClient.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const counts = { transactions: 0, entities: 0, byMethod: {} as Record<string, number> };
  const restore: (() => void)[] = [];
  const wrap = (method: string, entitiesOf: (args: unknown[]) => number) => {
    const original = proto[method];
    proto[method] = function (this: unknown, ...args: unknown[]) {
      counts.transactions++;
      counts.entities += entitiesOf(args);
      counts.byMethod[method] = (counts.byMethod[method] ?? 0) + 1;
      return original.apply(this, args);
    };
    restore.push(() => (proto[method] = original));
  };
  for (const m of ['getEntity', 'createEntity', 'updateEntity', 'upsertEntity', 'deleteEntity', 'listEntities']) wrap(m, () => 1);
  wrap('submitTransaction', (args) => (Array.isArray(args[0]) ? args[0].length : 1));
  return { counts, stop: () => restore.forEach((r) => r()) };
}

const roundHeadroom = (x: number) => round(x, x < 10 ? 2 : 0);

/** The most steps per second each limit allows, at the measured costs (per deployment unless the scope says otherwise). */
function capacity(costs: Costs) {
  return {
    service_bus_namespace: round(limits.serviceBusStandardCreditsPerS / costs.serviceBusCreditsPerStep, 0),
    table_account: round(limits.tableAccountTransactionsPerS / costs.tableTransactionsPerStep, 0),
    graph_app_all_tenants: round(limits.graphRequestsPerAppPer10s / 10 / costs.graphCallsPerStep, 0),
    per_tenant_run_partition: round(limits.tablePartitionEntitiesPerS / costs.tableEntitiesPerStep, 0),
    per_tenant_graph_app: round(
      limits.graphResourceUnitsPerAppPerTenantPerMin / 60 / limits.graphResourceUnitsPerWrite / costs.graphCallsPerStep,
      1,
    ),
    per_service_account_graph: round(limits.graphRequestsPerUserPerS / costs.graphCallsPerStep, 1),
  };
}

export function fleetModel(costs: Costs, fleet: (typeof fleets)[number]) {
  const { tenants, connectionsPerTenant, stepsPerTenantPerDay } = fleet;
  const tenantPeakStepsPerS = (stepsPerTenantPerDay * PEAK_HOUR_SHARE) / 3600;
  const fleetPeakStepsPerS = tenantPeakStepsPerS * tenants;
  const instances = Math.max(1, Math.ceil(fleetPeakStepsPerS / STEPS_PER_INSTANCE_S));
  const connections = tenants * connectionsPerTenant;
  // Per 10 s: each instance reads each connection it runs once per token lifetime, and each refresh writes once. Upper
  // bound: sessions spread over instances at random, so within an hour every instance meets every connection.
  const vaultPer10s = ((instances * connections + connections) * 10) / ACCESS_TOKEN_LIFETIME_S;
  const loads = {
    key_vault: { load: vaultPer10s, limit: limits.keyVaultTransactionsPer10s, unit: 'transactions per 10 s, one vault' },
    table_partition: {
      load: tenantPeakStepsPerS * costs.tableEntitiesPerStep,
      limit: limits.tablePartitionEntitiesPerS,
      unit: "entities/s in the busiest tenant's run partition",
    },
    table_account: {
      load: fleetPeakStepsPerS * costs.tableTransactionsPerStep,
      limit: limits.tableAccountTransactionsPerS,
      unit: 'transactions/s, one storage account',
    },
    service_bus: {
      load: fleetPeakStepsPerS * costs.serviceBusCreditsPerStep,
      limit: limits.serviceBusStandardCreditsPerS,
      unit: 'credits/s, one Standard namespace',
    },
    graph_per_service_account: {
      load: tenantPeakStepsPerS * BUSIEST_CONNECTION_SHARE * costs.graphCallsPerStep,
      limit: limits.graphRequestsPerUserPerS,
      unit: 'requests/s of the busiest service account',
    },
    graph_per_tenant_app: {
      load: tenantPeakStepsPerS * 60 * costs.graphCallsPerStep * limits.graphResourceUnitsPerWrite,
      limit: limits.graphResourceUnitsPerAppPerTenantPerMin,
      unit: 'resource units/min, app in one tenant (0-1k licenses)',
    },
    graph_global_app: {
      load: fleetPeakStepsPerS * 10 * costs.graphCallsPerStep,
      limit: limits.graphRequestsPerAppPer10s,
      unit: 'requests per 10 s, app across all tenants',
    },
  };
  const headroom = Object.fromEntries(Object.entries(loads).map(([k, v]) => [k, roundHeadroom(v.limit / Math.max(v.load, 1e-9))]));
  const [firstWall, firstHeadroom] = Object.entries(headroom).sort((a, b) => a[1] - b[1])[0];
  return {
    fleet: fleet.label,
    tenants,
    connections_per_tenant: connectionsPerTenant,
    steps_per_tenant_per_day: stepsPerTenantPerDay,
    peak_steps_per_s: round(fleetPeakStepsPerS, 1),
    instances,
    token_endpoint_calls_per_hour: Math.round((connections * 3600) / ACCESS_TOKEN_LIFETIME_S),
    headroom,
    first_wall: firstWall,
    first_wall_headroom: firstHeadroom,
  };
}

export async function scaleModel(stack: TestStack): Promise<Figure> {
  const ctx = stack.context;
  const msal = new MsalClients(ctx.settings);
  note('scale_model: one connection, a process of 4 steps (untimed setup)');
  const cache = await signInCache(msal, CONTOSO_SVC_WORKPOINT);
  const connection = await storeSignedInConnection(stack, CONTOSO_SVC_WORKPOINT, 'Bench scale', cache, 3600);
  const body: ProcessBody = {
    name: 'Bench: scale model',
    kind: 'system',
    triggers: [{ event: 'ItemUpdated', conditions: [{ path: 'event.data.bench', op: 'eq', value: 'scale' }] }],
    steps: Array.from({ length: STEPS }, (_, i) => ({
      id: `s${i + 1}`,
      type: 'action' as const,
      action: 'updateFields',
      inputs: { fields: { [`Seen${i + 1}`]: true } },
      permissions: { executeAs: connection.id },
    })),
  };
  await savePublished(ctx, adminOf(CONTOSO_ADMIN), 'bench-scale', body);

  const batch = randomUUID().slice(0, 8);
  const send = async (from: number, count: number) => {
    const messages = Array.from({ length: count }, (_, k) => {
      const i = from + k;
      return {
        messageId: `${batch}-${i}`,
        body: {
          id: `${batch}-${i}`,
          type: 'ItemUpdated',
          tenantId: TENANT_A.id,
          occurredAt: new Date().toISOString(),
          subject: { siteId: 'contoso.sharepoint.com,bench', listId: 'bench-scale', itemId: String(i) },
          data: { bench: 'scale' },
        },
      };
    });
    await stack.bus.send(queueNames.events, messages);
    await stack.bus.idle();
  };
  await send(0, 5); // warm: the published-process cache, the broker's memory, the table clients

  const events = scaled(50, 10);
  note(`scale_model: ${events} events x ${STEPS} steps, counting every Azure call`);
  const tables = countTables();
  const sent = { messages: 0 };
  const bus = stack.bus as { send: typeof stack.bus.send };
  const originalSend = bus.send;
  bus.send = (queue, messages) => {
    sent.messages += messages.length;
    return originalSend.call(stack.bus, queue, messages);
  };
  stack.graph.reset();
  stack.vault.resetCounts();
  await resetTokenStats(stack.identityProvider.url);
  try {
    await send(5, events);
  } finally {
    tables.stop();
    bus.send = originalSend;
  }
  const steps = events * STEPS;
  const graphCalls = stack.graph.calls.length;
  if (stack.graph.calls.filter((c) => c.status === 200).length !== steps)
    throw new Error(`scale_model: ${graphCalls} Graph calls for ${steps} steps`);
  const vault = stack.vault.counts();
  const tokens = await getTokenStats(stack.identityProvider.url);
  // Every message sent (the events by the product, the step messages by the app) is also received once: 2 credits each.
  const messagesPerStep = sent.messages / steps;
  const costs: Costs = {
    tableEntitiesPerStep: tables.counts.entities / steps,
    tableTransactionsPerStep: tables.counts.transactions / steps,
    serviceBusCreditsPerStep: 2 * messagesPerStep,
    graphCallsPerStep: graphCalls / steps,
  };
  const model = fleets.map((f) => fleetModel(costs, f));
  const reference = model.find((m) => m.fleet === 'reference')!;
  return {
    name: 'scale_model',
    measured_steps: steps,
    measured_events: events,
    steps_per_run: STEPS,
    per_step: {
      table_entities: round(costs.tableEntitiesPerStep, 2),
      table_transactions: round(costs.tableTransactionsPerStep, 2),
      table_calls_by_method: Object.fromEntries(Object.entries(tables.counts.byMethod).map(([k, v]) => [k, round(v / steps, 2)])),
      service_bus_messages: round(messagesPerStep, 2),
      service_bus_credits: round(costs.serviceBusCreditsPerStep, 2),
      graph_calls: round(costs.graphCallsPerStep, 2),
      vault_reads: round(vault.reads / steps, 3),
      vault_writes: round(vault.writes / steps, 3),
      token_endpoint_calls: round(tokens.total / steps, 3),
    },
    per_connection: 'per instance and access-token lifetime: 1 vault read; per refresh: 1 token call, 1 vault write (token_calls)',
    assumptions: {
      peak_hour_share_of_day: PEAK_HOUR_SHARE,
      busiest_connection_share_of_tenant: BUSIEST_CONNECTION_SHARE,
      access_token_lifetime_s: ACCESS_TOKEN_LIFETIME_S,
      steps_per_instance_s: STEPS_PER_INSTANCE_S,
    },
    limits,
    max_steps_per_s: capacity(costs),
    fleets: model,
    // The reference fleet's first wall: its load over its limit (above 1 = throttled at peak).
    ratio: round(1 / reference.first_wall_headroom, 2),
    first_wall: reference.first_wall,
  };
}
