/**
 * The fraud processor: stripe.events.v1 → risk.fraud-scores.v1 (and, for high risk, a
 * notification to the risk team on notify.dispatch-requests.v1). Consumer group processor.fraud.
 */
import { DecisionLog } from '../../lib/decision-log.ts';
import type { OutgoingGroup } from '../../lib/kafka.ts';
import type { ProcessorDefinition } from '../../lib/processor.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { CustomerDirectory } from '../customers/directory.ts';
import { notificationRequest } from '../dispatch/request.ts';
import { defaultFraudPolicy, paymentFacts, scorePayment, scoredTypes, type FraudPolicy } from './decide.ts';
import { FraudStore } from './effects.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function fraudProcessor(rt: Runtime, policy: FraudPolicy = defaultFraudPolicy): ProcessorDefinition<'stripe.events.v1'> {
  const directory = new CustomerDirectory(rt.redis);
  const store = new FraudStore(rt.redis, policy);
  const decisions = new DecisionLog<OutgoingGroup[]>(rt.redis, 'fraud');
  return {
    name: 'fraud',
    topics: ['stripe.events.v1'],
    async handle(record) {
      const e = record.value;
      await directory.apply(e);
      const isDispute = e.type === 'charge.dispute.created' || e.type === 'radar.early_fraud_warning.created';
      if (!scoredTypes.has(e.type) && !isDispute) return;
      const object = (JSON.parse(e.payload) as { data?: { object?: unknown } }).data?.object;
      if (isDispute) {
        // A fraudulent dispute or an early fraud warning flags the card used for the charge.
        const o = isObject(object) ? object : {};
        const fraudulent = e.type === 'radar.early_fraud_warning.created' || o.reason === 'fraudulent';
        const charge = typeof o.charge === 'string' ? o.charge : isObject(o.charge) && typeof o.charge.id === 'string' ? o.charge.id : null;
        const fingerprint = fraudulent && charge ? await store.fingerprintOfCharge(charge) : null;
        if (fingerprint) await store.flag(fingerprint, e.occurred_at);
        return;
      }
      // Decided before (outputs are recorded only once Kafka acknowledged them): nothing to redo.
      if (await decisions.get(e.event_id)) return;
      const appender = await rt.kafka.appender();
      const facts = paymentFacts(e.event_id, e.type, e.occurred_at, object);
      if (!facts) return;
      if (facts.paymentId && facts.fingerprint) await store.rememberCharge(facts.paymentId, facts.fingerprint);
      const windows = await store.observe(facts);
      const customer = await directory.get(facts.customerId);
      const decision = scorePayment(
        facts,
        {
          accountCreatedAt: customer?.createdAt ?? null,
          customerEmail: customer?.email ?? null,
          customerCountry: customer?.country ?? null,
          attemptsInWindow: windows.attemptsInWindow,
          smallChargesInWindow: windows.smallChargesInWindow,
          fingerprintFlagged: facts.fingerprint ? await store.flaggedBefore(facts.fingerprint, facts.at) : false,
        },
        policy,
      );
      const outputs: OutgoingGroup[] = [
        {
          topic: 'risk.fraud-scores.v1',
          records: [
            {
              key: facts.customerId,
              record: 'FraudScored',
              value: {
                event_id: `fraud:${e.event_id}`,
                occurred_at: e.occurred_at,
                received_at: e.received_at,
                customer_id: facts.customerId,
                source_event_id: e.event_id,
                source_event_type: e.type,
                payment_id: facts.paymentId,
                amount: facts.amount,
                currency: facts.currency,
                score: decision.score,
                action: decision.action,
                factors: [...decision.factors],
                model_version: 'rules-1',
              },
            },
          ],
        },
      ];
      if (decision.action === 'require_3ds' || decision.action === 'block') {
        const request = notificationRequest({
          source: `fraud:${e.event_id}`,
          userId: rt.config.riskTeamUser,
          template: 'fraud_review',
          category: 'security',
          priority: decision.action === 'block' ? 'CRITICAL' : 'HIGH',
          data: { customer_id: facts.customerId, payment_id: facts.paymentId, amount: facts.amount, currency: facts.currency, score: decision.score, action: decision.action, factors: decision.factors },
          requestedBy: 'processor.fraud',
          sourceEventId: e.event_id,
          at: e.occurred_at,
        });
        outputs.push({ topic: 'notify.dispatch-requests.v1', records: [{ key: request.user_id, record: 'NotificationRequested', value: request }] });
      }
      if (decision.action === 'block' && facts.fingerprint) await store.flag(facts.fingerprint, facts.at);
      await appender.appendMany(outputs);
      await decisions.put(e.event_id, outputs);
    },
  };
}
