/**
 * Applies notification records (requests, dispatch outcomes, provider delivery events) to a
 * delivery projection version. Every write is a merge that does not depend on order or repetition:
 * steps are kept once per event id, message times keep the earliest, and a notification's status is
 * recomputed from its steps as the highest-ranked one.
 */
import { inKeyOrder, lockKeys, recordset, recordsetParam, type DbClient } from '../../lib/db.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import type { Logger } from '../../lib/log.ts';
import type { DeliveryEventReceived } from '../../lib/topics.ts';
import { deliveryFact, deliveryStep, dispatchStep, normalizeMessageId, rankOf, requestedStep, type MessageFact, type Step } from './steps.ts';

export type DeliveryTopic = 'notify.dispatch-requests.v1' | 'notify.dispatches.v1' | 'notify.delivery-events.v1';

interface NotificationRow {
  user_id: string | null;
  template: string | null;
  category: string | null;
  priority: string | null;
  requested_at: number | null;
}

interface MessageRow {
  provider: string | null;
  provider_message_id: string | null;
  attempts: number;
  facts: Partial<Record<MessageFact, number>>;
}

/**
 * Whether an attempt (its number and provider message id) is later than the one a row holds; the
 * SQL merge below says the same, comparing ids bytewise (COLLATE "C") as JavaScript does.
 */
function supersedes(attempts: number, messageId: string | null, rowAttempts: number, rowMessageId: string | null): boolean {
  if (attempts !== rowAttempts) return attempts > rowAttempts;
  return (messageId ?? '') > (rowMessageId ?? '');
}

const facts: readonly MessageFact[] = ['sent_at', 'delivered_at', 'opened_at', 'clicked_at', 'bounced_at', 'failed_at', 'unsubscribed_at'];
/** The daily_metrics column counting messages with each fact (sent_at → sent). */
const counted = facts.map((f) => f.replace(/_at$/, ''));
const MESSAGE_COLUMNS: Record<string, string> = {
  notification_id: 'text', channel: 'text', provider: 'text', provider_message_id: 'text', attempts: 'int', ...Object.fromEntries(facts.map((f) => [f, 'timestamptz'])),
};

/** How a sent message was routed and what it cost (from its `sent` outcome; one per notification and channel). */
interface SendRow {
  provider: string | null;
  country: string | null;
  price_micros: number | null;
  price_currency: string | null;
  route_reason: string | null;
  sent_at: number;
  template_version: number | null;
  experiment: string | null;
  variant: string | null;
}

class Batch {
  readonly notifications = new Map<string, NotificationRow>();
  readonly sends = new Map<string, SendRow>();
  readonly messages = new Map<string, MessageRow>();
  readonly steps = new Map<string, Step>();
  readonly messageIds = new Map<string, { notificationId: string; channel: string }>();

  notification(id: string, patch: Partial<NotificationRow> = {}): void {
    const row = this.notifications.get(id) ?? { user_id: null, template: null, category: null, priority: null, requested_at: null };
    this.notifications.set(id, {
      user_id: row.user_id ?? patch.user_id ?? null,
      template: row.template ?? patch.template ?? null,
      category: row.category ?? patch.category ?? null,
      priority: row.priority ?? patch.priority ?? null,
      requested_at: row.requested_at === null ? (patch.requested_at ?? null) : Math.min(row.requested_at, patch.requested_at ?? row.requested_at),
    });
  }

  message(notificationId: string, channel: string, patch: { provider?: string | null; providerMessageId?: string | null; attempts?: number; fact?: MessageFact; at?: number }): void {
    const key = `${notificationId}|${channel}`;
    const row = this.messages.get(key) ?? { provider: null, provider_message_id: null, attempts: 0, facts: {} };
    // The provider and message id are those of the latest attempt (ties: the greater id), whatever
    // order the attempts arrive in; the first one seen used to win, so a retried message's id
    // depended on how partitions interleaved.
    const attempts = patch.attempts ?? 0;
    if (supersedes(attempts, patch.providerMessageId ?? null, row.attempts, row.provider_message_id)) {
      row.provider = patch.provider ?? row.provider;
      row.provider_message_id = patch.providerMessageId ?? row.provider_message_id;
    } else {
      row.provider = row.provider ?? patch.provider ?? null;
      row.provider_message_id = row.provider_message_id ?? patch.providerMessageId ?? null;
    }
    row.attempts = Math.max(row.attempts, attempts);
    if (patch.fact && patch.at !== undefined) row.facts[patch.fact] = Math.min(row.facts[patch.fact] ?? patch.at, patch.at);
    this.messages.set(key, row);
  }

  step(s: Step): void {
    this.steps.set(`${s.notificationId}|${s.eventId}`, s);
    this.notification(s.notificationId);
  }

  delivery(e: DeliveryEventReceived, notificationId: string): void {
    this.step(deliveryStep(e, notificationId));
    const fact = deliveryFact(e);
    this.message(notificationId, e.channel, { provider: e.provider, ...(fact ? { fact, at: e.occurred_at } : {}) });
  }
}

/** A batch of records merged in memory; delivery events that name no notification are returned apart. */
function collect(records: readonly Incoming<DeliveryTopic>[]): { batch: Batch; unresolved: DeliveryEventReceived[] } {
  const batch = new Batch();
  const unresolved: DeliveryEventReceived[] = [];
  for (const r of records) {
    switch (r.record) {
      case 'NotificationRequested': {
        const v = r.value;
        batch.notification(v.notification_id, { user_id: v.user_id, template: v.template, category: v.category, priority: v.priority, requested_at: v.occurred_at });
        batch.step(requestedStep(v));
        break;
      }
      case 'NotificationDispatched': {
        const v = r.value;
        batch.notification(v.notification_id, { user_id: v.user_id, template: v.template, category: v.category, priority: v.priority });
        batch.step(dispatchStep(v));
        if (v.channel && (v.status === 'sent' || v.status === 'failed' || v.status === 'retrying')) {
          batch.message(v.notification_id, v.channel, {
            provider: v.provider,
            providerMessageId: v.provider_message_id,
            attempts: v.attempt,
            ...(v.status === 'sent' ? { fact: 'sent_at' as const, at: v.occurred_at } : v.status === 'failed' ? { fact: 'failed_at' as const, at: v.occurred_at } : {}),
          });
          if (v.provider_message_id) batch.messageIds.set(normalizeMessageId(v.provider_message_id), { notificationId: v.notification_id, channel: v.channel });
          // A channel is sent at most once per notification (the dispatcher's state guards it): its
          // one `sent` outcome says where it went and what it cost.
          if (v.status === 'sent') {
            batch.sends.set(`${v.notification_id}|${v.channel}`, {
              provider: v.provider,
              country: v.destination_country,
              price_micros: v.price_micros,
              price_currency: v.price_currency,
              route_reason: v.route_reason,
              sent_at: v.occurred_at,
              template_version: v.template_version,
              // An experiment counts only with its variant (and a variant only within its experiment).
              experiment: v.experiment !== null && v.variant !== null ? v.experiment : null,
              variant: v.experiment !== null && v.variant !== null ? v.variant : null,
            });
          }
        }
        break;
      }
      case 'DeliveryEventReceived': {
        if (r.value.notification_id) batch.delivery(r.value, r.value.notification_id);
        else unresolved.push(r.value);
        break;
      }
      case 'NotificationDue':
        // A timer; what it leads to arrives as a NotificationDispatched.
        break;
      case 'NotificationCancelled':
        // Asked to cancel: what the dispatcher decided arrives as a NotificationDispatched (cancelled, or nothing once sent).
        break;
      default: {
        const _exhaustive: never = r;
        void _exhaustive;
      }
    }
  }
  return { batch, unresolved };
}

export async function applyNotificationRecords(client: DbClient, schema: string, records: readonly Incoming<DeliveryTopic>[]): Promise<void> {
  const { batch, unresolved } = collect(records);
  // Delivery events without a notification id: through message ids known before or in this batch.
  const wanted = [...new Set(unresolved.map((e) => normalizeMessageId(e.provider_message_id ?? '')).filter(Boolean))];
  const adopted = [...batch.messageIds.keys()];
  const locks = [...new Set([...wanted, ...adopted])].sort();
  if (locks.length > 0) {
    // A message id registered by one partition's batch and an event parked for it by another's
    // must not miss each other: both lock the id (sorted, before any row write) and the second sees the first.
    await lockKeys(client, `${schema}:message`, locks);
  }
  const known = new Map(batch.messageIds);
  if (wanted.length > 0) {
    const res = await client.query<{ provider_message_id: string; notification_id: string; channel: string }>(
      `SELECT provider_message_id, notification_id, channel FROM ${schema}.message_ids WHERE provider_message_id = ANY($1::text[])`,
      [wanted],
    );
    for (const row of res.rows) known.set(row.provider_message_id, { notificationId: row.notification_id, channel: row.channel });
  }
  const orphans: DeliveryEventReceived[] = [];
  for (const e of unresolved) {
    const found = known.get(normalizeMessageId(e.provider_message_id ?? ''));
    if (found) batch.delivery(e, found.notificationId);
    else orphans.push(e);
  }
  // Orphans parked earlier whose message became known in this batch.
  if (adopted.length > 0) {
    const res = await client.query<{ provider_message_id: string; event: DeliveryEventReceived }>(
      `DELETE FROM ${schema}.orphan_events WHERE provider_message_id = ANY($1::text[]) RETURNING provider_message_id, event`,
      [adopted],
    );
    for (const row of res.rows) batch.delivery(row.event, (batch.messageIds.get(row.provider_message_id) as { notificationId: string }).notificationId);
  }

  await write(client, schema, batch, orphans, 'live');
}

/**
 * The bulk path of a rebuild (lib/projection.ts BulkLoad): the same merges without a read. Every
 * delivery event that names no notification is parked; statuses and daily metrics are left to
 * `finishDelivery`.
 */
export async function loadNotificationRecords(client: DbClient, schema: string, records: readonly Incoming<DeliveryTopic>[]): Promise<void> {
  const { batch, unresolved } = collect(records);
  await write(client, schema, batch, unresolved, 'load');
}

/**
 * Derives what the load left out, once, from everything loaded: parked delivery events whose
 * message id is now known (in chunks along the parked table's key), each notification's status
 * (its highest-ranked step, as the live path keeps it), and the daily metrics (what
 * analytics.delivery_metrics_daily counts, grouped from every message).
 */
export async function finishDelivery(client: DbClient, schema: string, log: Logger): Promise<void> {
  let after: [string, string] = ['', ''];
  let adopted = 0;
  for (;;) {
    // A page of the parked table along its key, with the notification of each one's message if known.
    const page = await client.query<{ provider_message_id: string; event_id: string; notification_id: string | null; event: DeliveryEventReceived }>(
      `SELECT o.provider_message_id, o.event_id, m.notification_id, CASE WHEN m.notification_id IS NULL THEN NULL ELSE o.event END AS event
       FROM (SELECT * FROM ${schema}.orphan_events WHERE (provider_message_id, event_id) > ($1, $2) ORDER BY provider_message_id, event_id LIMIT 5000) o
       LEFT JOIN ${schema}.message_ids m USING (provider_message_id)
       ORDER BY o.provider_message_id, o.event_id`,
      after,
    );
    const last = page.rows.at(-1);
    if (!last) break;
    after = [last.provider_message_id, last.event_id];
    const found = page.rows.filter((r) => r.notification_id !== null);
    if (found.length === 0) continue;
    const batch = new Batch();
    for (const row of found) batch.delivery(row.event, row.notification_id as string);
    await write(client, schema, batch, [], 'load');
    await client.query(
      `DELETE FROM ${schema}.orphan_events o USING unnest($1::text[], $2::text[]) AS d(provider_message_id, event_id)
       WHERE o.provider_message_id = d.provider_message_id AND o.event_id = d.event_id`,
      [found.map((r) => r.provider_message_id), found.map((r) => r.event_id)],
    );
    adopted += found.length;
  }
  const statuses = await client.query(
    `UPDATE ${schema}.notifications n SET status = s.status, status_rank = s.rank, status_at = s.at
     FROM (SELECT DISTINCT ON (notification_id) notification_id, status, rank, at FROM ${schema}.steps
           WHERE status IS NOT NULL ORDER BY notification_id, rank DESC, at DESC, event_id DESC) s
     WHERE n.notification_id = s.notification_id`,
  );
  const metrics = await client.query(
    `INSERT INTO ${schema}.daily_metrics (day, channel, category, template, messages, ${counted.join(', ')})
     SELECT (COALESCE(m.sent_at, m.failed_at) AT TIME ZONE 'UTC')::date, m.channel, COALESCE(n.category, 'unknown'), COALESCE(n.template, 'unknown'),
            count(*), ${facts.map((f) => `count(m.${f})`).join(', ')}
     FROM ${schema}.messages m LEFT JOIN ${schema}.notifications n USING (notification_id)
     WHERE COALESCE(m.sent_at, m.failed_at) IS NOT NULL
     GROUP BY 1, 2, 3, 4`,
  );
  log.info({ schema, adopted, statuses: statuses.rowCount, metricRows: metrics.rowCount }, 'delivery derived');
}

type MetricsRow = { channel: string; category: string | null; template: string | null } & Record<MessageFact, Date | null>;

/** What the daily metrics count of each message of these notifications (with its notification's category and template). */
async function metricRows(client: DbClient, schema: string, notificationIds: readonly string[]): Promise<MetricsRow[]> {
  if (notificationIds.length === 0) return [];
  const res = await client.query<MetricsRow>(
    `SELECT m.channel, n.category, n.template, ${facts.map((f) => `m.${f}`).join(', ')}
     FROM ${schema}.messages m LEFT JOIN ${schema}.notifications n USING (notification_id) WHERE m.notification_id = ANY($1::text[])`,
    [notificationIds],
  );
  return res.rows;
}

interface MetricSum {
  readonly day: string;
  readonly channel: string;
  readonly category: string;
  readonly template: string;
  counts: number[];
}

/** Adds (1) or subtracts (-1) messages' contributions, as analytics.delivery_metrics_daily counts them. */
function addMetrics(acc: Map<string, MetricSum>, rows: readonly MetricsRow[], sign: 1 | -1): void {
  for (const r of rows) {
    const at = r.sent_at ?? r.failed_at;
    if (!at) continue;
    const day = at.toISOString().slice(0, 10);
    const category = r.category ?? 'unknown';
    const template = r.template ?? 'unknown';
    const key = `${day}|${r.channel}|${category}|${template}`;
    let sum = acc.get(key);
    if (!sum) {
      sum = { day, channel: r.channel, category, template, counts: new Array<number>(facts.length + 1).fill(0) };
      acc.set(key, sum);
    }
    sum.counts[0] = (sum.counts[0] as number) + sign;
    facts.forEach((f, i) => {
      if (r[f] !== null) sum.counts[i + 1] = (sum.counts[i + 1] as number) + sign;
    });
  }
}

/** `live` keeps statuses and daily metrics batch by batch; `load` (a bulk rebuild) leaves them to `finishDelivery`. */
async function write(client: DbClient, schema: string, batch: Batch, parked: readonly DeliveryEventReceived[], mode: 'live' | 'load'): Promise<void> {
  const ts = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms));
  // Every multi-row write goes in key order, so concurrent batches of other partitions take row
  // locks in the same order and cannot deadlock.
  // The daily metrics are running sums: what these notifications' messages counted before this
  // batch is subtracted and what they count after it added. The notifications are locked first (a
  // batch of another partition touching one waits), so "before" is what the other one committed.
  const live = mode === 'live';
  const affected = live ? [...new Set([...batch.notifications.keys(), ...[...batch.messages.keys()].map((k) => k.split('|')[0] as string)])].sort() : [];
  await lockKeys(client, `${schema}:notification`, affected);
  const before = await metricRows(client, schema, affected);
  const n = inKeyOrder(batch.notifications);
  if (n.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.notifications AS t (notification_id, user_id, template, category, priority, requested_at)
       SELECT * FROM ${recordset({ notification_id: 'text', user_id: 'text', template: 'text', category: 'text', priority: 'text', requested_at: 'timestamptz' }, 1)}
       ON CONFLICT (notification_id) DO UPDATE SET
         user_id = COALESCE(t.user_id, excluded.user_id), template = COALESCE(t.template, excluded.template),
         category = COALESCE(t.category, excluded.category), priority = COALESCE(t.priority, excluded.priority),
         requested_at = LEAST(t.requested_at, excluded.requested_at)`,
      [recordsetParam(n.map(([id, r]) => ({ notification_id: id, user_id: r.user_id, template: r.template, category: r.category, priority: r.priority, requested_at: ts(r.requested_at) })))],
    );
  }
  const s = inKeyOrder([...batch.steps.values()].map((x): [string, typeof x] => [`${x.notificationId}\u0000${x.eventId}`, x])).map(([, x]) => x);
  if (s.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.steps (notification_id, event_id, step, status, rank, at, channel, provider, detail)
       SELECT * FROM ${recordset({ notification_id: 'text', event_id: 'text', step: 'text', status: 'text', rank: 'int', at: 'timestamptz', channel: 'text', provider: 'text', detail: 'text' }, 1)}
       ON CONFLICT DO NOTHING`,
      [
        recordsetParam(
          s.map((x) => ({ notification_id: x.notificationId, event_id: x.eventId, step: x.step, status: x.status, rank: rankOf(x.status), at: ts(x.at), channel: x.channel, provider: x.provider, detail: x.detail })),
        ),
      ],
    );
  }
  const sends = inKeyOrder(batch.sends);
  if (sends.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.sends (notification_id, channel, provider, country, price_micros, price_currency, route_reason, sent_at, template_version, experiment, variant)
       SELECT * FROM ${recordset({ notification_id: 'text', channel: 'text', provider: 'text', country: 'text', price_micros: 'bigint', price_currency: 'text', route_reason: 'text', sent_at: 'timestamptz', template_version: 'int', experiment: 'text', variant: 'text' }, 1)}
       ON CONFLICT (notification_id, channel) DO NOTHING`,
      [
        recordsetParam(
          sends.map(([key, r]) => {
            const [notificationId, channel] = key.split('|') as [string, string];
            return {
              notification_id: notificationId, channel, provider: r.provider, country: r.country, price_micros: r.price_micros, price_currency: r.price_currency, route_reason: r.route_reason, sent_at: ts(r.sent_at),
              template_version: r.template_version, experiment: r.experiment, variant: r.variant,
            };
          }),
        ),
      ],
    );
  }
  const m = inKeyOrder(batch.messages);
  if (m.length > 0) {
    const cols = facts.map((f) => `${f} = LEAST(t.${f}, excluded.${f})`).join(', ');
    await client.query(
      `INSERT INTO ${schema}.messages AS t (notification_id, channel, provider, provider_message_id, attempts, ${facts.join(', ')})
       SELECT * FROM ${recordset(MESSAGE_COLUMNS, 1)}
       ON CONFLICT (notification_id, channel) DO UPDATE SET
         provider = CASE WHEN (excluded.attempts, COALESCE(excluded.provider_message_id, '') COLLATE "C") > (t.attempts, COALESCE(t.provider_message_id, '') COLLATE "C")
                         THEN COALESCE(excluded.provider, t.provider) ELSE COALESCE(t.provider, excluded.provider) END,
         provider_message_id = CASE WHEN (excluded.attempts, COALESCE(excluded.provider_message_id, '') COLLATE "C") > (t.attempts, COALESCE(t.provider_message_id, '') COLLATE "C")
                         THEN COALESCE(excluded.provider_message_id, t.provider_message_id) ELSE COALESCE(t.provider_message_id, excluded.provider_message_id) END,
         attempts = GREATEST(t.attempts, excluded.attempts), ${cols}`,
      [
        recordsetParam(
          m.map(([k, r]) => {
            const [notificationId, channel] = k.split('|');
            const row: Record<string, unknown> = { notification_id: notificationId, channel, provider: r.provider, provider_message_id: r.provider_message_id, attempts: r.attempts };
            for (const f of facts) row[f] = ts(r.facts[f]);
            return row;
          }),
        ),
      ],
    );
  }
  const ids = inKeyOrder(batch.messageIds);
  if (ids.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.message_ids (provider_message_id, notification_id, channel)
       SELECT * FROM ${recordset({ provider_message_id: 'text', notification_id: 'text', channel: 'text' }, 1)} ON CONFLICT DO NOTHING`,
      [recordsetParam(ids.map(([k, v]) => ({ provider_message_id: k, notification_id: v.notificationId, channel: v.channel })))],
    );
  }
  const orphans = inKeyOrder(parked.map((e): [string, DeliveryEventReceived] => [`${normalizeMessageId(e.provider_message_id ?? '')}\u0000${e.event_id}`, e])).map(([, e]) => e);
  if (orphans.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.orphan_events (provider_message_id, event_id, event)
       SELECT * FROM ${recordset({ provider_message_id: 'text', event_id: 'text', event: 'jsonb' }, 1)} ON CONFLICT DO NOTHING`,
      [recordsetParam(orphans.map((e) => ({ provider_message_id: normalizeMessageId(e.provider_message_id ?? ''), event_id: e.event_id, event: e })))],
    );
  }
  const touched = live ? n.map(([id]) => id) : [];
  if (touched.length > 0) {
    // Monotonic: a concurrent batch of another partition may have committed a further step; the row's
    // latest version is compared here, so a status is never replaced by a lower one.
    await client.query(
      `UPDATE ${schema}.notifications n SET status = s.status, status_rank = s.rank, status_at = s.at
       FROM (SELECT DISTINCT ON (notification_id) notification_id, status, rank, at FROM ${schema}.steps
             WHERE notification_id = ANY($1::text[]) AND status IS NOT NULL ORDER BY notification_id, rank DESC, at DESC, event_id DESC) s
       WHERE n.notification_id = s.notification_id
         AND (s.rank, s.at) > (n.status_rank, COALESCE(n.status_at, '-infinity'::timestamptz))`,
      [touched],
    );
  }
  if (!live) return;
  const sums = new Map<string, MetricSum>();
  addMetrics(sums, await metricRows(client, schema, affected), 1);
  addMetrics(sums, before, -1);
  const changed = inKeyOrder(sums).map(([, v]) => v).filter((v) => v.counts.some((c) => c !== 0));
  if (changed.length > 0) {
    const col = (i: number) => changed.map((v) => v.counts[i]);
    await client.query(
      `INSERT INTO ${schema}.daily_metrics AS t (day, channel, category, template, messages, ${counted.join(', ')})
       SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::text[], $5::int[], ${counted.map((_, i) => `$${i + 6}::int[]`).join(', ')})
       ON CONFLICT (day, channel, category, template) DO UPDATE SET messages = t.messages + excluded.messages,
         ${counted.map((c) => `${c} = t.${c} + excluded.${c}`).join(', ')}`,
      [changed.map((v) => v.day), changed.map((v) => v.channel), changed.map((v) => v.category), changed.map((v) => v.template), col(0), ...facts.map((_, i) => col(i + 1))],
    );
  }
}
