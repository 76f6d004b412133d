/**
 * An analyst's review of a scored payment (POST /v1/risk/reviews, and the dashboard's buttons):
 * the payment is looked up in the fraud projection (a charge, PaymentIntent or assessment id as
 * analytics.fraud_scores shows it) and a PaymentLabeled appended for it.
 */
import type { Db } from '../db.ts';
import { EventlineError } from '../errors.ts';
import type { Kafka } from '../kafka/index.ts';
import { activeVersion } from '../projection-versions.ts';
import type { PaymentLabeled } from '../topics.ts';

export interface Review {
  readonly paymentId: string;
  readonly label: 'fraudulent' | 'legitimate';
  readonly reason: string | null;
  /** key:<id> */
  readonly actor: string;
}

/** Appends the review's label; not_found when the payment was never scored. */
export async function reviewPayment(db: Db, kafka: Kafka, r: Review, now = Date.now()): Promise<PaymentLabeled> {
  if (!/^[A-Za-z0-9_:.-]{3,200}$/.test(r.paymentId)) throw new EventlineError('unprocessable', 'invalid review', { detail: ['payment_id: a charge, PaymentIntent or assessment id'] });
  const version = await activeVersion(db, 'fraud');
  const scored = version
    ? (await db.query<{ customer_id: string }>(`SELECT customer_id FROM ${version.schema}.scores WHERE payment_id = $1 OR source_event_id = $1 ORDER BY occurred_at DESC LIMIT 1`, [r.paymentId])).rows[0]
    : undefined;
  if (!scored) throw new EventlineError('not_found', `no scored payment ${r.paymentId} (a charge, PaymentIntent or assessment id as analytics.fraud_scores shows it)`);
  const label: PaymentLabeled = { event_id: `label:${r.paymentId}:review:${now}`, occurred_at: now, received_at: now, customer_id: scored.customer_id, payment_id: r.paymentId, label: r.label, source: 'review', actor: r.actor, reason: r.reason };
  await (await kafka.appender()).append('risk.fraud-scores.v1', [{ key: scored.customer_id, record: 'PaymentLabeled', value: label }]);
  return label;
}
