/**
 * Pure mapping from a verified Stripe event to the StripeEventReceived record: which customer it
 * belongs to (the record key) and the envelope fields. The raw JSON is kept byte for byte.
 */
import { EventlineError } from '../../lib/errors.ts';
import { idOf, record, text, viewStripeEvent } from '../../lib/stripe/index.ts';
import type { StripeEventReceived } from '../../lib/topics.ts';

export interface StripeEventShape {
  readonly id: string;
  readonly type: string;
  readonly created: number;
  readonly api_version: string | null;
  readonly account: string | null;
  readonly livemode: boolean;
  readonly object: Readonly<Record<string, unknown>>;
}

/** Checks the fields every Stripe event has; 400 bad_request naming what is missing. */
export function parseStripeEvent(json: unknown): StripeEventShape {
  const root = record(json);
  if (!root) throw new EventlineError('bad_request', 'a Stripe event must be a JSON object');
  const { id, type, created, apiVersion, object } = viewStripeEvent(root);
  const problems: string[] = [];
  if (id === null || !/^evt_[A-Za-z0-9_]+$/.test(id)) problems.push('id: expected evt_...');
  if (type === null) problems.push('type: expected a string');
  if (created === null || !Number.isInteger(created) || created <= 0) problems.push('created: expected unix seconds');
  if (object === null) problems.push('data.object: expected an object');
  if (problems.length > 0 || id === null || type === null || created === null || object === null) {
    throw new EventlineError('bad_request', `not a Stripe event: ${problems.join('; ')}`, { detail: problems });
  }
  return { id, type, created, api_version: apiVersion, account: text(root.account), livemode: root.livemode === true, object };
}

/** The Stripe customer an object belongs to: the customer itself, its `customer` (id or expanded), else null. */
export function stripeCustomerId(object: Readonly<Record<string, unknown>>): string | null {
  return (object.object === 'customer' ? text(object.id) : null) ?? idOf(object.customer);
}

export function toStripeEventReceived(rawJson: string, event: StripeEventShape, receivedAt: number, source: 'webhook' | 'backfill'): { key: string; value: StripeEventReceived } {
  const customerId = stripeCustomerId(event.object);
  const objectId = text(event.object.id);
  return {
    key: customerId ?? objectId ?? event.id,
    value: {
      event_id: event.id,
      occurred_at: event.created * 1000,
      received_at: receivedAt,
      type: event.type,
      api_version: event.api_version,
      account: event.account,
      livemode: event.livemode,
      customer_id: customerId,
      object_id: objectId,
      object_type: text(event.object.object),
      source,
      payload: rawJson,
    },
  };
}
