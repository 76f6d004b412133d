/**
 * The fraud processor's adapter: stripe.events.v1 → risk.fraud-scores.v1 (and, for high risk, a
 * notification to the risk team on notify.dispatch-requests.v1). Consumer group processor.fraud.
 *
 * For each batch of inputs: load the customers' risk state, decide each input in order (decide.ts),
 * append every decision, fold (evolve.ts) with one compare-and-set (lib/decider/batch.ts).
 */
import { decideBatch, factsOf, EntityStore, StateWriter, stateKeys, type BatchDecider, type BatchState, type EntityRef, type Fence, type FoldedTopic, type Output, type RebuildSpec } from '../../lib/decider/index.ts';
import type { ProcessorDefinition } from '../../lib/processor.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { readDispute, readStripeEvent } from '../../lib/stripe/index.ts';
import type { TopicName } from '../../lib/topics.ts';
import { customerRef, directoryFence, type CustomerRecord } from '../customers/directory.ts';
import { noMatches, RiskLists } from '../../lib/risk/lists.ts';
import { decideFraud, defaultFraudPolicy, type FraudInput, type FraudOptions, type FraudPolicy } from './decide.ts';
import { cardKind, chargeKind, emptyRisk, fraudKindsFor, paymentOf, riskKind, type CardRisk, type ChargeCard, type CustomerRisk, type FraudFact } from './evolve.ts';

/** Card flags and scores: all of them; charges: as far back as a charge's card is kept (a dispute may come months later). */
export const fraudFolds: readonly FoldedTopic[] = [
  { topic: 'risk.fraud-scores.v1', horizonMs: null },
  { topic: 'stripe.events.v1', horizonMs: (chargeKind.ttlSeconds ?? 0) * 1000 },
];

export function fraudFact(record: { topic: TopicName; record: string; value: unknown }): FraudFact | null {
  return record.topic === 'stripe.events.v1' || record.topic === 'risk.fraud-scores.v1' ? ({ topic: record.topic, record: record.record, value: record.value } as FraudFact) : null;
}

export interface FraudParts {
  readonly processor: ProcessorDefinition<'stripe.events.v1' | 'risk.fraud-scores.v1'>;
  readonly rebuild: RebuildSpec<FraudFact>;
}

/** What a fraud decision reads: the state (the fold) and the customer directory. */
export interface FraudReader {
  risk(customerId: string): Promise<CustomerRisk | null>;
  card(fingerprint: string): Promise<CardRisk | null>;
  charge(chargeId: string): Promise<ChargeCard | null>;
  customer(customerId: string): Promise<CustomerRecord | null>;
}

function inputOf(fact: FraudFact): FraudInput | null {
  if (fact.topic !== 'stripe.events.v1') return null;
  const e = fact.value;
  const payment = paymentOf(fact);
  if (payment) return { kind: 'payment', facts: payment };
  if (e.type !== 'charge.dispute.created' && e.type !== 'radar.early_fraud_warning.created') return null;
  const dispute = readDispute(readStripeEvent(e.payload).object);
  const reason = e.type === 'radar.early_fraud_warning.created' ? 'early_fraud_warning' : dispute?.reason === 'fraudulent' ? 'dispute_fraudulent' : null;
  return { kind: 'dispute', eventId: e.event_id, at: e.occurred_at, customerId: e.customer_id ?? 'unknown', chargeId: dispute?.chargeId ?? null, reason };
}

/** The decisions a record leads to (the adapter's "load and decide" step; the state is read, never written). */
export async function decideRecord(fact: FraudFact, read: FraudReader, options: FraudOptions & { readonly lists?: RiskLists }): Promise<readonly Output[]> {
  const input = inputOf(fact);
  if (input?.kind === 'payment') {
    const f = input.facts;
    const [risk, customer, card, lists] = await Promise.all([read.risk(f.customerId), read.customer(f.customerId), f.fingerprint ? read.card(f.fingerprint) : Promise.resolve(null), options.lists?.current() ?? null]);
    return decideFraud({ risk: risk ?? emptyRisk, customer, cardFlaggedAt: card?.flaggedAt ?? null, chargeFingerprint: null, lists: lists?.match(f) ?? noMatches }, input, f.at, options).events;
  }
  if (input?.kind === 'dispute') {
    const charge = input.chargeId ? await read.charge(input.chargeId) : null;
    return decideFraud({ risk: emptyRisk, customer: null, cardFlaggedAt: null, chargeFingerprint: charge?.fingerprint ?? null }, input, input.at, options).events;
  }
  return [];
}

/** What a batch's decisions read: the batch's state, the customer directory included (its kinds fold it too). */
export function fraudReaderOf(state: BatchState<FraudFact>): FraudReader {
  return {
    risk: (customerId) => state.get<CustomerRisk>({ kind: riskKind.name, key: customerId }),
    card: (fingerprint) => state.get<CardRisk>({ kind: cardKind.name, key: fingerprint }),
    charge: (chargeId) => state.get<ChargeCard>({ kind: chargeKind.name, key: chargeId }),
    customer: (customerId) => state.get<CustomerRecord>(customerRef(customerId)),
  };
}

/**
 * What a decision reads beyond what it folds into, read with the batch's first round trip: a
 * payment's customer risk, directory entry and card. Only payments are scored: the invoices and
 * subscription changes that make most of the topic read nothing (a batch of them reads nothing
 * from Redis at all), and a dispute reads its charge when decided.
 */
export function fraudReads(fact: FraudFact): EntityRef[] {
  const payment = paymentOf(fact);
  if (!payment) return [];
  const refs: EntityRef[] = [{ kind: riskKind.name, key: payment.customerId }, customerRef(payment.customerId)];
  if (payment.fingerprint) refs.push({ kind: cardKind.name, key: payment.fingerprint });
  return refs;
}

/** How the adapter decides a batch (lib/decider/batch.ts): its reader, what it reads, the fences its reads check. */
export const fraudBatch = { readerOf: fraudReaderOf, reads: fraudReads, readFences: [directoryFence], asFact: fraudFact } as const;

export function fraudProcessor(rt: Runtime, policy: FraudPolicy = defaultFraudPolicy): FraudParts {
  const store = new EntityStore(rt.redis);
  const kinds = fraudKindsFor(policy);
  const writer = new StateWriter<FraudFact>(store, kinds, null);
  const fence: Fence = { kind: 'live', sentinel: stateKeys('fraud').sentinel };
  const options = { policy, riskTeamUser: rt.config.riskTeamUser, lists: new RiskLists(rt.db, rt.config.risk.listsRefreshMs) };
  const decider: BatchDecider<FraudFact> = { kafka: rt.kafka, store, writer, kinds, fence, ...fraudBatch };

  return {
    rebuild: { processor: 'fraud', topics: fraudFolds, fact: fraudFact, writer },
    processor: {
      name: 'fraud',
      // Its own topic too: the assessments of the API (POST /v1/risk/assess) count in the customer's
      // windows and a blocked one flags its card; its own scores fold again to the same state.
      topics: ['stripe.events.v1', 'risk.fraud-scores.v1'],
      async handleBatch(records) {
        const { facts, origins } = factsOf(records, fraudFact);
        await decideBatch(decider, facts, fraudBatch.readerOf, (fact, read) => decideRecord(fact, read, options), { processor: 'fraud', origins });
      },
    },
  };
}
