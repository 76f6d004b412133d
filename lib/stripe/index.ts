/** Reading Stripe payloads (stripe.events.v1): one typed, total reader for every API version Eventline reads. */
export {
  idOf,
  num,
  readCharge,
  readCoupon,
  readCustomer,
  readDiscount,
  readDispute,
  readInvoice,
  readPaymentIntent,
  readStripeEvent,
  readSubscription,
  record,
  text,
  viewStripeEvent,
  type StripeCharge,
  type StripeCoupon,
  type StripeCustomer,
  type StripeDiscount,
  type StripeDispute,
  type StripeEventView,
  type StripeInvoice,
  type StripeInvoiceLine,
  type StripePaymentIntent,
  type StripeSubscription,
  type StripeSubscriptionItem,
} from './read.ts';

/**
 * The type of the records Eventline itself appends to stripe.events.v1 (source `api`) with a Price
 * object fetched through Stripe's API with its tiers (webhooks leave them out): keyed by a customer
 * whose subscription uses the price, so its projections see it in that customer's partition.
 */
export const PRICE_FETCHED_TYPE = 'eventline.price_fetched';
