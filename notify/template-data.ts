/**
 * The data each template may use: one zod schema per template, for the `data` of a notification
 * request (the API refuses data that does not match, 422 naming each field), and a sample of it
 * for previews (`eventline templates preview`). Every template in templates/en-US/ has an entry
 * (checked by `eventline templates check`, notify/template-check.ts). Pure.
 *
 * A field is required when the message makes no sense without it (the amount of a failed
 * payment); the others may be absent or null (Stripe does not always give a hosted invoice URL).
 * A field no schema declares is refused: a typo would otherwise render as blank text. Link fields
 * (`*_url`) are https URLs, as notify/links.ts says.
 *
 * Eventline adds RENDER_VARIABLES itself when it renders, so templates may use them and requests
 * may not set them.
 */
import { z } from 'zod';
import { LINK_PROBLEM, isHttpsUrl, linkProblems } from './links.ts';

/** Variables Eventline puts into every render (processors/dispatch/main.ts, notify/render.ts), not the request. */
export const RENDER_VARIABLES: readonly string[] = ['user_id', 'first_name', 'unsubscribe_url', 'confirm_url', '_locale', '_timezone'];

const amount = z.int({ error: 'expected an integer amount in minor units (990 for 9.90)' }).nonnegative({ error: 'expected an amount of 0 or more' });
const currency = z.string({ error: 'expected a 3-letter currency code like usd' }).regex(/^[A-Za-z]{3}$/, { error: 'expected a 3-letter currency code like usd' });
const link = z.string({ error: LINK_PROBLEM }).refine(isHttpsUrl, { error: LINK_PROBLEM });
const days = z.int({ error: 'expected a whole number of days' }).nonnegative({ error: 'expected 0 days or more' });
const time = z.union([z.int().positive(), z.iso.datetime({ offset: true }), z.iso.date()], {
  error: 'expected a Unix time (seconds or milliseconds) or an ISO 8601 date',
});
const text = z.string({ error: 'expected text' }).min(1, { error: 'expected text' }).max(200, { error: 'expected at most 200 characters' });
const interval = z.enum(['day', 'week', 'month', 'year'], { error: 'expected day, week, month or year' });
const ratio = z.number({ error: 'expected a number from 0 to 1' }).min(0, { error: 'expected a number from 0 to 1' }).max(1, { error: 'expected a number from 0 to 1' });
const quantity = z.int({ error: 'expected a whole number' }).positive({ error: 'expected 1 or more' });

/** Every template's data: its own fields, and `action_url` (where an in-app item or push opens). */
const fields = <S extends z.ZodRawShape>(shape: S) => z.strictObject({ action_url: link.nullish(), ...shape });

/** What the dunning processor sends with each reminder (processors/dunning/decide.ts). */
const reminder = {
  amount_due: amount,
  currency,
  hosted_invoice_url: link.nullish(),
  invoice_id: text.optional(),
  days_since_failure: days.optional(),
  days_left: days.optional(),
};
/** What the dunning processor sends about a subscription (its plan, from Stripe: any part may be missing). */
const plan = { plan: text.nullish(), amount: amount.nullish(), currency: currency.optional(), interval: interval.nullish(), quantity: quantity.optional() };

export interface TemplateData {
  readonly schema: z.ZodObject;
  /** Data that passes the schema, for previews. */
  readonly sample: Readonly<Record<string, unknown>>;
}

const invoiceUrl = 'https://invoice.stripe.com/i/acct_preview/test_preview';

export const templateData: Readonly<Record<string, TemplateData>> = {
  card_expiring: {
    schema: fields({
      brand: text.nullish(),
      last4: z.string({ error: 'expected the last 4 digits' }).regex(/^\d{4}$/, { error: 'expected the last 4 digits' }).nullish(),
      exp_month: z.int({ error: 'expected a month 1..12' }).min(1, { error: 'expected a month 1..12' }).max(12, { error: 'expected a month 1..12' }),
      exp_year: z.int({ error: 'expected a year like 2027' }).min(2000, { error: 'expected a year like 2027' }).max(2100, { error: 'expected a year like 2027' }),
      update_url: link.nullish(),
    }),
    sample: { brand: 'Visa', last4: '4242', exp_month: 12, exp_year: 2026, update_url: 'https://billing.example.com/card' },
  },
  contact_confirmation: {
    schema: fields({ contact: z.enum(['email', 'phone'], { error: 'expected email or phone' }).optional() }),
    sample: { contact: 'email' },
  },
  digest: {
    schema: fields({
      items: z.array(z.strictObject({ template: text.optional(), subject: z.string({ error: 'expected text' }).max(500) }), { error: 'expected a list of {subject}' }).min(1, { error: 'expected 1 item or more' }).max(100, { error: 'expected at most 100 items' }),
      date: z.iso.date({ error: 'expected a date like 2025-10-01' }).optional(),
    }),
    sample: { items: [{ template: 'receipt', subject: 'Payment received: $49.00' }, { template: 'plan_changed', subject: 'Your plan has changed' }], date: '2025-10-01' },
  },
  final_notice: {
    schema: fields({ ...reminder, days_left: days }),
    sample: { amount_due: 4900, currency: 'usd', hosted_invoice_url: invoiceUrl, days_left: 7 },
  },
  fraud_review: {
    schema: fields({
      customer_id: text,
      payment_id: text,
      amount,
      currency,
      score: ratio,
      action: z.enum(['allow', 'review', 'require_3ds', 'block'], { error: 'expected allow, review, require_3ds or block' }),
      factors: z.array(z.strictObject({ name: text, weight: z.number({ error: 'expected a number' }), detail: z.string({ error: 'expected text' }).max(500) })).optional(),
    }),
    sample: {
      customer_id: 'cus_preview',
      payment_id: 'ch_preview',
      amount: 250_000,
      currency: 'usd',
      score: 0.82,
      action: 'block',
      factors: [
        { name: 'new_account', weight: 0.3, detail: 'account created 0.2 days before the payment' },
        { name: 'country_mismatch', weight: 0.25, detail: 'card issued in BR, billing address in US' },
      ],
    },
  },
  payment_action_required: {
    schema: fields(reminder),
    sample: { amount_due: 4900, currency: 'usd', hosted_invoice_url: invoiceUrl, days_left: 21 },
  },
  payment_failed: {
    schema: fields(reminder),
    sample: { amount_due: 4900, currency: 'usd', hosted_invoice_url: invoiceUrl },
  },
  plan_changed: {
    schema: fields({ ...plan, plan: text }),
    sample: { plan: 'Pro', amount: 4900, currency: 'usd', interval: 'month', quantity: 3 },
  },
  receipt: {
    schema: fields({ amount_due: amount, currency, hosted_invoice_url: link.nullish(), invoice_id: text.optional(), recovered: z.boolean({ error: 'expected true or false' }).optional() }),
    sample: { amount_due: 4900, currency: 'usd', hosted_invoice_url: invoiceUrl, recovered: true },
  },
  retention_alert: {
    schema: fields({ customer_id: text, invoice_id: text, amount_due: amount, currency, churn_risk: ratio }),
    sample: { customer_id: 'cus_preview', invoice_id: 'in_preview', amount_due: 49_900, currency: 'usd', churn_risk: 0.75 },
  },
  security_alert: {
    schema: fields({ alert: text, ip: text.nullish(), device: text.nullish() }),
    sample: { alert: 'new_device_login', ip: '203.0.113.5', device: 'Firefox on Linux' },
  },
  subscription_canceled: {
    schema: fields({ ...plan, canceled_at: time.nullish() }),
    sample: { plan: 'Pro', amount: 4900, currency: 'usd', interval: 'month', canceled_at: 1_759_276_800 },
  },
  trial_ending: {
    schema: fields({ ...plan, trial_end: time, amount, currency, interval }),
    sample: { plan: 'Pro', amount: 4900, currency: 'usd', interval: 'month', trial_end: 1_759_276_800 },
  },
  update_payment_method: {
    schema: fields({ ...reminder, days_left: days }),
    sample: { amount_due: 4900, currency: 'usd', hosted_invoice_url: invoiceUrl, days_left: 14 },
  },
  usage_threshold: {
    schema: fields({ metric: text, used: z.int({ error: 'expected a whole number' }), limit: z.int({ error: 'expected a whole number' }), threshold_percent: z.int({ error: 'expected a whole number' }) }),
    sample: { metric: 'api_calls', used: 80_000, limit: 100_000, threshold_percent: 80 },
  },
  welcome_subscription: {
    schema: fields({ ...plan, status: text.nullish(), trial_end: time.nullish() }),
    sample: { plan: 'Pro', amount: 4900, currency: 'usd', interval: 'month', trial_end: 1_759_276_800 },
  },
};

const pathText = (path: readonly PropertyKey[]) => path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), data);
}

/**
 * What is wrong with `data` for `template`, one "data.field: …" line each (empty: nothing). Link
 * fields anywhere are checked too (notify/links.ts), as the API always did.
 */
export function dataProblems(template: string, data: Readonly<Record<string, unknown>>): string[] {
  const entry = templateData[template];
  if (!entry) return [`template: ${template} declares no data (notify/template-data.ts)`];
  const parsed = entry.schema.safeParse(data);
  const problems = linkProblems(data);
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    const at = `data${pathText(issue.path)}`;
    if (issue.code === 'unrecognized_keys') {
      const known = issue.path.length === 0 ? Object.keys(entry.schema.shape).join(', ') : null;
      for (const key of issue.keys) {
        if (issue.path.length === 0 && RENDER_VARIABLES.includes(key)) problems.push(`${at}.${key}: set by Eventline when it renders, not by the request`);
        else problems.push(`${at}.${key}: not a field of ${template}${known ? ` (its fields: ${known})` : ''}`);
      }
    } else {
      problems.push(`${at}: ${valueAt(data, issue.path) === undefined ? 'required, ' : ''}${issue.message}`);
    }
  }
  return [...new Set(problems)];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  return s;
}

/**
 * Whether `schema` declares the variable at `path`: object keys, `[]` for an element of a list,
 * and `length` of a list (`items.length`).
 */
export function declares(schema: z.ZodType, path: readonly string[]): boolean {
  let s = unwrap(schema);
  for (const [i, segment] of path.entries()) {
    if (s instanceof z.ZodArray) {
      if (segment === 'length') return i === path.length - 1;
      if (segment !== '[]') return false;
      s = unwrap(s.element as z.ZodType);
    } else if (s instanceof z.ZodObject) {
      const next = (s.shape as Record<string, z.ZodType | undefined>)[segment];
      if (!next) return false;
      s = unwrap(next);
    } else return false;
  }
  return true;
}
