/**
 * The components `eventline run` can start; each registers its own shutdown with the runtime.
 * One process can run all of them (npm start), or each deployment a subset (--only).
 */
import { runProjection, runVersionedProjection } from '../lib/projection.ts';
import type { Runtime } from '../lib/runtime.ts';
import type { AnyTopicName } from '../lib/topics.ts';
import { runProcessor } from '../lib/processor.ts';
import { buildHttpApp } from '../producers/http/routes.ts';
import { stripeClient } from '../lib/stripe/client.ts';
import { priceTiersProcessor } from '../producers/stripe/price-tiers.ts';
import { startServer } from '../producers/http/server.ts';
import { loadRules, rulesProcessor } from '../processors/rules/main.ts';
import type { ProcessorName } from '../processors/supervisor.ts';
import { versionedProjections } from '../projections/index.ts';
import { preferencesProjection } from '../projections/preferences/main.ts';

type Component = (rt: Runtime) => Promise<void>;

function projection(name: string): Component {
  return async (rt) => {
    const def = versionedProjections[name];
    if (!def) throw new Error(`no projection ${name}`);
    const running = await runVersionedProjection(rt, def);
    rt.shutdown.add(`projection.${name}`, () => running.stop());
  };
}

export const components = {
  http: async (rt: Runtime): Promise<void> => {
    const { app } = buildHttpApp(rt);
    await startServer(rt, app);
  },
  'projection.preferences': async (rt: Runtime): Promise<void> => {
    const running = await runProjection(rt, preferencesProjection);
    rt.shutdown.add('projection.preferences', () => running.stop());
  },
  'processor.stripe-prices': async (rt: Runtime): Promise<void> => {
    // Without an API key, tiered prices whose webhooks left their tiers out count 0 (docs/analytics.md).
    const { apiKey, apiUrl } = rt.config.stripe;
    if (!apiKey) {
      rt.log.warn({ component: 'processor.stripe-prices' }, 'STRIPE_API_KEY is not set: tiers of tiered prices are not fetched');
      return;
    }
    const running = await runProcessor(rt, priceTiersProcessor(rt, stripeClient(apiKey, apiUrl)));
    rt.shutdown.add('processor.stripe-prices', () => running.stop());
  },
  'processor.rules': async (rt: Runtime): Promise<void> => {
    // A bad rules file stops the process at start, every problem listed (config_invalid).
    const rules = loadRules(rt.config.rules.path);
    rt.log.info({ component: 'processor.rules', path: rt.config.rules.path, rules: rules.map((r) => r.name) }, 'domain-event rules loaded');
    const running = await runProcessor(rt, rulesProcessor(rt, rules));
    rt.shutdown.add('processor.rules', () => running.stop());
  },
  'projection.mrr': projection('mrr'),
  'projection.delivery': projection('delivery'),
  'projection.fraud': projection('fraud'),
  'projection.dunning': projection('dunning'),
  'projection.inbox': projection('inbox'),
} satisfies Record<string, Component>;

/** Processors run as one group per process (see processors/supervisor.ts). */
export const processorComponents: Readonly<Record<string, ProcessorName>> = {
  'processor.fraud': 'fraud',
  'processor.dunning': 'dunning',
  'processor.dispatch': 'dispatch',
};

export type ComponentName = keyof typeof components | keyof typeof processorComponents;
export const componentNames: readonly string[] = [...Object.keys(components), ...Object.keys(processorComponents)];

/** Consumer groups with Kafka-committed offsets, for `eventline status` (versioned projections report their checkpoints). */
export const consumerGroups: readonly { group: string; topics: readonly AnyTopicName[] }[] = [
  { group: 'projection.preferences', topics: ['notify.preference-changes.v1'] },
  { group: 'processor.fraud', topics: ['stripe.events.v1', 'risk.fraud-scores.v1'] },
  { group: 'processor.dunning', topics: ['stripe.events.v1', 'billing.dunning-steps.v1', 'notify.delivery-events.v1'] },
  { group: 'processor.dispatch', topics: ['notify.dispatch-requests.v1', 'notify.delivery-events.v1', 'stripe.events.v1'] },
  { group: 'processor.stripe-prices', topics: ['stripe.events.v1'] },
  { group: 'processor.rules', topics: ['domain.events.v1'] },
];
