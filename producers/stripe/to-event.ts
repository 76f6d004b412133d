/**
 * Pure mapping from a verified Stripe event to the StripeEventReceived record: which customer it
 * belongs to (the record key) and the envelope fields. The raw JSON is kept byte for byte.
 */
import { EventlineError } from '../../lib/errors.ts';
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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the fields every Stripe event has; 400 bad_request naming what is missing. */
export function parseStripeEvent(json: unknown): StripeEventShape {
  const problems: string[] = [];
  if (!isRecord(json)) throw new EventlineError('bad_request', 'a Stripe event must be a JSON object');
  const { id, type, created, data } = json;
  if (typeof id !== 'string' || !/^evt_[A-Za-z0-9_]+$/.test(id)) problems.push('id: expected evt_...');
  if (typeof type !== 'string' || type.length === 0) problems.push('type: expected a string');
  if (typeof created !== 'number' || !Number.isInteger(created) || created <= 0) problems.push('created: expected unix seconds');
  if (!isRecord(data) || !isRecord(data.object)) problems.push('data.object: expected an object');
  if (problems.length > 0) throw new EventlineError('bad_request', `not a Stripe event: ${problems.join('; ')}`, { detail: problems });
  return {
    id: id as string,
    type: type as string,
    created: created as number,
    api_version: typeof json.api_version === 'string' ? json.api_version : null,
    account: typeof json.account === 'string' ? json.account : null,
    livemode: json.livemode === true,
    object: (data as { object: Record<string, unknown> }).object,
  };
}

/** The Stripe customer an object belongs to: the customer itself, its `customer` (id or expanded), else null. */
export function stripeCustomerId(object: Readonly<Record<string, unknown>>): string | null {
  if (object.object === 'customer' && typeof object.id === 'string') return object.id;
  const c = object.customer;
  if (typeof c === 'string' && c !== '') return c;
  if (isRecord(c) && typeof c.id === 'string') return c.id;
  return null;
}

export function toStripeEventReceived(rawJson: string, event: StripeEventShape, receivedAt: number, source: 'webhook' | 'backfill'): { key: string; value: StripeEventReceived } {
  const customerId = stripeCustomerId(event.object);
  const objectId = typeof event.object.id === 'string' ? event.object.id : null;
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
      object_type: typeof event.object.object === 'string' ? event.object.object : null,
      source,
      payload: rawJson,
    },
  };
}
