/**
 * Fraud scoring, a decider, pure: payment facts + what is known about the customer → a score in
 * 0..1 made of named factors, and an action; a fraudulent dispute flags the card. The state it reads
 * (payment windows, card flags, account age, what was scored) is the fold in evolve.ts; time is the
 * event's time.
 */
import { nothing, type Decision, type Output } from '../../lib/decider/index.ts';
import type { ListMatches } from '../../lib/risk/lists.ts';
import { scoredRecord, scoreInView, type FraudPolicy, type PaymentFacts } from '../../lib/risk/score.ts';
import type { CardFlagged, PaymentLabeled } from '../../lib/topics.ts';
import { notificationRequest } from '../../notify/index.ts';
import type { CustomerRisk } from './evolve.ts';

// The scoring core lives in lib/risk/score.ts (the API's assessment shares it).
export * from '../../lib/risk/score.ts';

// ---------------------------------------------------------------- the decider
export type FraudInput =
  | { readonly kind: 'payment'; readonly facts: PaymentFacts }
  | { readonly kind: 'dispute'; readonly eventId: string; readonly at: number; readonly customerId: string; readonly chargeId: string | null; readonly reason: 'dispute_fraudulent' | 'early_fraud_warning' | null };

export interface FraudView {
  readonly risk: CustomerRisk;
  readonly customer: { readonly createdAt: number | null; readonly email: string | null; readonly country: string | null } | null;
  /** When the payment's card was first involved in fraud (null: never, or no card). */
  readonly cardFlaggedAt: number | null;
  /** The disputed charge's card fingerprint, when known. */
  readonly chargeFingerprint: string | null;
  /** The allow- and block-list entries the payment matches (lib/risk/lists.ts), as the lists were when it was scored. */
  readonly lists?: ListMatches;
}

export interface FraudOptions {
  readonly policy: FraudPolicy;
  readonly riskTeamUser: string;
}

export function decideFraud(view: FraudView, input: FraudInput, now: number, options: FraudOptions): Decision<never> {
  switch (input.kind) {
    case 'dispute': {
      // A fraudulent dispute or an early fraud warning labels the charge fraudulent (the truth the
      // back-test measures against) and flags the card used for it.
      if (!input.reason) return nothing;
      const events: Output[] = [];
      if (input.chargeId) {
        const label: PaymentLabeled = { event_id: `label:${input.eventId}`, occurred_at: now, received_at: now, customer_id: input.customerId, payment_id: input.chargeId, label: 'fraudulent', source: input.reason === 'early_fraud_warning' ? 'early_fraud_warning' : 'dispute', actor: 'stripe', reason: input.reason === 'early_fraud_warning' ? 'early fraud warning from the issuer' : 'dispute reason fraudulent' };
        events.push({ topic: 'risk.fraud-scores.v1', key: input.customerId, record: 'PaymentLabeled', value: label });
      }
      if (view.chargeFingerprint) {
        const value: CardFlagged = { event_id: `flag:${input.eventId}`, occurred_at: now, received_at: now, customer_id: input.customerId, fingerprint: view.chargeFingerprint, charge_id: input.chargeId, reason: input.reason, source_event_id: input.eventId };
        events.push({ topic: 'risk.fraud-scores.v1', key: input.customerId, record: 'CardFlagged', value });
      }
      return events.length > 0 ? { events, effects: [] } : nothing;
    }
    case 'payment': {
      const f = input.facts;
      // Scored before: the recorded decision stands (a re-read after the windows moved on decides nothing new).
      if (f.eventId in view.risk.scored) return nothing;
      const decision = scoreInView(f, view, options.policy);
      const scored = scoredRecord(f, decision, now);
      const events: Output[] = [{ topic: 'risk.fraud-scores.v1', key: f.customerId, record: 'FraudScored', value: scored }];
      if (decision.action === 'require_3ds' || decision.action === 'block') {
        const request = notificationRequest({
          // Once per payment attempt: its PaymentIntent and its charge are both scored, the team is told once.
          source: `fraud:${f.attemptId ?? f.eventId}`,
          userId: options.riskTeamUser,
          template: 'fraud_review',
          category: 'security',
          priority: decision.action === 'block' ? 'CRITICAL' : 'HIGH',
          data: { customer_id: f.customerId, payment_id: f.paymentId, amount: f.amount, currency: f.currency, score: decision.score, action: decision.action, factors: decision.factors },
          requestedBy: 'processor.fraud',
          sourceEventId: f.eventId,
          at: now,
        });
        events.push({ topic: 'notify.dispatch-requests.v1', key: request.user_id, record: 'NotificationRequested', value: request });
      }
      return { events, effects: [] };
    }
    default: {
      const _exhaustive: never = input;
      return _exhaustive;
    }
  }
}
