/**
 * analytics.invoices: one row per Stripe invoice as it stands, derived from every version of it
 * the topic holds — like subscriptions, the latest by (Stripe created, event id), whatever order
 * the events came in and however often; the last decline code is that of the latest version that
 * carries one. The hosted invoice URL (a bearer link to pay it) is not kept.
 */
import { insertOnce, lockKeys, type DbClient } from '../../lib/db.ts';
import { readInvoice, readStripeEvent } from '../../lib/stripe/index.ts';
import type { StripeEventReceived } from '../../lib/topics.ts';

export interface InvoiceVersionRow {
  readonly invoice_id: string;
  readonly created_at: string;
  readonly event_id: string;
  readonly customer_id: string | null;
  readonly subscription_id: string | null;
  readonly status: string | null;
  readonly amount_due_cents: number | null;
  readonly amount_paid_cents: number | null;
  readonly currency: string | null;
  readonly attempt_count: number | null;
  readonly decline_code: string | null;
}

const VERSION_COLUMNS = {
  invoice_id: 'text',
  created_at: 'timestamptz',
  event_id: 'text',
  customer_id: 'text',
  subscription_id: 'text',
  status: 'text',
  amount_due_cents: 'bigint',
  amount_paid_cents: 'bigint',
  currency: 'text',
  attempt_count: 'int',
  decline_code: 'text',
} as const;

/**
 * An invoice version's line that may be usage: a metered price (before basil, the line says so), or
 * a price whose usage type the line does not say (basil and later name only the price's id), to be
 * told by the subscriptions' metered prices (usage_revenue_monthly). Licensed lines are not kept.
 */
export interface InvoiceLineRow {
  readonly invoice_id: string;
  readonly event_id: string;
  readonly line_id: string;
  readonly customer_id: string | null;
  readonly price_id: string | null;
  /** true: the line's price is metered; null: the line does not say. */
  readonly metered: boolean | null;
  readonly amount_cents: number;
  readonly currency: string | null;
  readonly period_start: string | null;
}

const LINE_COLUMNS = {
  invoice_id: 'text',
  event_id: 'text',
  line_id: 'text',
  customer_id: 'text',
  price_id: 'text',
  metered: 'boolean',
  amount_cents: 'bigint',
  currency: 'text',
  period_start: 'timestamptz',
} as const;

/** Keeps the invoice version an event carries (by `invoice|created|event id`), and its lines that may be usage; ignores other events. */
export function collectInvoice(versions: Map<string, InvoiceVersionRow>, e: StripeEventReceived, lines?: Map<string, InvoiceLineRow>): void {
  if (!e.type.startsWith('invoice.')) return;
  const invoice = readInvoice(readStripeEvent(e.payload).object);
  if (!invoice) return;
  invoice.lines.forEach((line, i) => {
    if (!lines || line.amount === null || line.usageType === 'licensed') return;
    const lineId = line.id ?? `#${i}`;
    lines.set(`${invoice.id}|${e.event_id}|${lineId}`, {
      invoice_id: invoice.id,
      event_id: e.event_id,
      line_id: lineId,
      customer_id: invoice.customerId ?? e.customer_id,
      price_id: line.priceId,
      metered: line.usageType === 'metered' ? true : null,
      amount_cents: line.amount,
      currency: line.currency ?? invoice.currency,
      period_start: line.periodStartMs === null ? null : new Date(line.periodStartMs).toISOString(),
    });
  });
  versions.set(`${invoice.id}|${e.occurred_at}|${e.event_id}`, {
    invoice_id: invoice.id,
    created_at: new Date(e.occurred_at).toISOString(),
    event_id: e.event_id,
    customer_id: invoice.customerId ?? e.customer_id,
    subscription_id: invoice.subscriptionId,
    status: e.type === 'invoice.deleted' ? 'deleted' : invoice.status,
    amount_due_cents: invoice.amountDue,
    amount_paid_cents: invoice.amountPaid,
    currency: invoice.currency,
    attempt_count: invoice.attemptCount,
    decline_code: invoice.declineCode,
  });
}

/** Inserts the versions (duplicates are no-ops); returns the invoices with a version new to the table. */
export async function insertInvoiceVersions(client: DbClient, schema: string, versions: ReadonlyMap<string, InvoiceVersionRow>, returning: boolean): Promise<string[]> {
  const inserted = await insertOnce<{ invoice_id: string }>(client, `${schema}.invoice_versions`, VERSION_COLUMNS, versions, returning ? 'invoice_id' : undefined);
  return [...new Set(inserted.map((r) => r.invoice_id))].sort();
}

/** Inserts the lines of invoice versions (duplicates are no-ops). */
export async function insertInvoiceLines(client: DbClient, schema: string, lines: ReadonlyMap<string, InvoiceLineRow>): Promise<void> {
  await insertOnce(client, `${schema}.invoice_lines`, LINE_COLUMNS, lines);
}

const DERIVE = (schema: string, where: string) => `
  INSERT INTO ${schema}.invoices (invoice_id, customer_id, subscription_id, status, amount_due_cents, amount_paid_cents, currency, attempt_count, last_decline_code, updated_at, last_event_id)
  SELECT DISTINCT ON (v.invoice_id) v.invoice_id, v.customer_id, v.subscription_id, v.status, v.amount_due_cents, v.amount_paid_cents, v.currency, v.attempt_count,
         (SELECT d.decline_code FROM ${schema}.invoice_versions d WHERE d.invoice_id = v.invoice_id AND d.decline_code IS NOT NULL
          ORDER BY d.created_at DESC, d.event_id DESC LIMIT 1),
         v.created_at, v.event_id
  FROM ${schema}.invoice_versions v ${where}
  ORDER BY v.invoice_id, v.created_at DESC, v.event_id DESC`;

/** Derives the rows of `invoices` again from their versions (locked first: two writers take turns). */
export async function deriveInvoices(client: DbClient, schema: string, invoices: readonly string[]): Promise<void> {
  if (invoices.length === 0) return;
  await lockKeys(client, `${schema}:invoice`, invoices);
  await client.query(`DELETE FROM ${schema}.invoices WHERE invoice_id = ANY($1::text[])`, [invoices]);
  await client.query(DERIVE(schema, 'WHERE v.invoice_id = ANY($1::text[])'), [invoices]);
}

/** A bulk rebuild's finish: every invoice derived once. */
export async function deriveAllInvoices(client: DbClient, schema: string): Promise<void> {
  await client.query(`TRUNCATE ${schema}.invoices`);
  await client.query(DERIVE(schema, ''));
}
