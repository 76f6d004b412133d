/**
 * The right to be forgotten (ARCHITECTURE §8, ADR 0018): crypto-shredding plus purging.
 *
 * 1. The erasure is recorded once per user (asking again returns the same erasure id).
 * 2. Its subjects are found: the user, the Stripe customers linked to the user (privacy.subject_links,
 *    the customer directory, and the Stripe events whose customer has metadata.user_id = the user),
 *    and the user's notifications (the subject of delivery events that came back without a user id).
 * 3. Their data keys are destroyed (the user's and those of the customers known without reading the
 *    topics at once, before the scan): every value sealed under them, in every topic, backup or
 *    read model, now reads `erased`. Replays still compute every number: amounts, ids and times were
 *    never sealed.
 * 4. What Eventline keeps in plain text for its own work is purged or masked: the local outbox's
 *    rendered messages, the SMS recipient index, push subscriptions, the preferences document, the
 *    customer directory in Redis.
 * 5. A UserErased record says who asked, when and what was destroyed, without personal data.
 *
 * Each step is idempotent and recorded in privacy.erasures.steps, so an erasure that stopped half
 * way (a crash, Postgres restarting) is finished by running it again: `resumeErasures` at start, or
 * the same request again.
 */
import { randomUUID } from 'node:crypto';
import type { Runtime } from '../../lib/runtime.ts';
import { ERASED } from '../../lib/privacy/crypto.ts';
import { listVersions } from '../../lib/projection-versions.ts';
import { EventlineError } from '../../lib/errors.ts';

export interface ErasureStatus {
  readonly erasure_id: string;
  readonly user_id: string;
  readonly status: 'pending' | 'done';
  readonly requested_by: string;
  readonly requested_at: string;
  readonly completed_at: string | null;
  readonly subjects: readonly string[];
  readonly purged: Readonly<Record<string, number>>;
}

interface Row {
  erasure_id: string;
  user_id: string;
  status: 'pending' | 'done';
  requested_by: string;
  requested_at: Date;
  completed_at: Date | null;
  subjects: string[];
  steps: { purged?: Record<string, number> };
}

const statusOf = (r: Row): ErasureStatus => ({
  erasure_id: r.erasure_id,
  user_id: r.user_id,
  status: r.status,
  requested_by: r.requested_by,
  requested_at: r.requested_at.toISOString(),
  completed_at: r.completed_at?.toISOString() ?? null,
  subjects: r.subjects,
  purged: r.steps.purged ?? {},
});

/** Finds the Stripe customers and notifications of a user that are not in a table (a topic scan); the export provides it. */
export type SubjectFinder = (rt: Runtime, userId: string) => Promise<{ customers: readonly string[]; notifications: readonly string[] }>;

/** Records the erasure (once per user) and returns it; `runErasure` does the work. */
export async function requestErasure(rt: Runtime, userId: string, requestedBy: string): Promise<ErasureStatus> {
  await rt.db.query('INSERT INTO privacy.erasures (erasure_id, user_id, requested_by) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING', [`era_${randomUUID().replace(/-/g, '')}`, userId, requestedBy]);
  const status = await erasureOf(rt, { userId });
  if (!status) throw new EventlineError('internal', `the erasure of ${userId} was recorded but cannot be read`);
  return status;
}

export async function erasureOf(rt: Runtime, by: { erasureId?: string; userId?: string }): Promise<ErasureStatus | null> {
  const { rows } = await rt.db.query<Row>(`SELECT * FROM privacy.erasures WHERE ${by.erasureId ? 'erasure_id' : 'user_id'} = $1`, [by.erasureId ?? by.userId]);
  return rows[0] ? statusOf(rows[0]) : null;
}

/** Runs (or finishes) an erasure; running a finished one changes nothing. */
export async function runErasure(rt: Runtime, erasureId: string, find: SubjectFinder): Promise<ErasureStatus> {
  const before = await erasureOf(rt, { erasureId });
  if (!before) throw new EventlineError('not_found', `no erasure ${erasureId}`);
  if (before.status === 'done') return before;
  const userId = before.user_id;
  const log = rt.log.child({ component: 'privacy', erasureId });

  // Subjects: found again on every run (a customer linked meanwhile is included), kept cumulatively.
  // What is known without reading the topics is shredded at once: the user, and the customers the
  // links and the directory name. The topics' scan (it takes as long as they are large) adds the rest.
  const keyring = await rt.privacy();
  const links = await rt.db.query<{ subject: string }>('SELECT subject FROM privacy.subject_links WHERE user_id = $1', [userId]);
  const directoryUser = await directoryCustomerOf(rt, userId);
  const known = [`user:${userId}`, ...links.rows.map((r) => r.subject), ...(directoryUser ? [`customer:${directoryUser}`] : [])];
  const destroyed = await keyring.destroy(known, erasureId);

  const found = await find(rt, userId);
  const customers = new Set([...found.customers, ...known.filter((s) => s.startsWith('customer:')).map((s) => s.slice('customer:'.length))]);
  const notifications = new Set([...found.notifications, ...(await notificationsInReadModels(rt, userId))]);
  const subjects = [...new Set([...before.subjects, ...known, ...[...customers].map((c) => `customer:${c}`), ...[...notifications].map((n) => `notification:${n}`)])].sort();
  await rt.db.query('UPDATE privacy.erasures SET subjects = $2 WHERE erasure_id = $1', [erasureId, subjects]);
  await rt.db.query('INSERT INTO privacy.subject_links (subject, user_id) SELECT s, $2 FROM unnest($1::text[]) AS s ON CONFLICT (subject) DO NOTHING', [[...customers].map((c) => `customer:${c}`), userId]);
  // Shredded before anything is purged: from here on no copy of a sealed value can be read.
  destroyed.push(...(await keyring.destroy(subjects, erasureId)));

  const purged: Record<string, number> = { 'privacy.subject_keys': destroyed.length };
  const count = (name: string, n: number | null) => {
    purged[name] = (purged[name] ?? 0) + (n ?? 0);
  };
  await rt.db.transaction(async (c) => {
    const ids = [...notifications];
    count(
      'dispatch.outbox',
      (await c.query(`UPDATE dispatch.outbox SET recipient = $2, subject = CASE WHEN subject IS NULL THEN NULL ELSE $2 END, body_text = $2, body_html = CASE WHEN body_html IS NULL THEN NULL ELSE $2 END, headers = '{}' WHERE notification_id = ANY($1::text[]) AND recipient <> $2`, [ids, ERASED])).rowCount,
    );
    count('dispatch.sms_recipients', (await c.query('DELETE FROM dispatch.sms_recipients WHERE user_id = $1', [userId])).rowCount);
    count('dispatch.push_subscriptions', (await c.query('DELETE FROM dispatch.push_subscriptions WHERE user_id = $1', [userId])).rowCount);
    // The preferences stay (channels, categories, quiet hours: not personal data); the contact fields read `erased`.
    count(
      'preferences.user_preferences',
      (
        await c.query(
          `UPDATE preferences.user_preferences SET
             preferences = preferences
               || CASE WHEN preferences->>'email' IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('email', $2::text) END
               || CASE WHEN preferences->>'phone' IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('phone', $2::text) END
               || jsonb_build_object('suppressions', COALESCE((SELECT jsonb_agg(s || jsonb_build_object('address', $2::text)) FROM jsonb_array_elements(preferences->'suppressions') AS s), '[]'::jsonb)),
             actor = CASE WHEN actor LIKE '%@%' THEN $2 ELSE actor END
           WHERE user_id = $1`,
          [userId, ERASED],
        )
      ).rowCount,
    );
  });
  // Redis: the customer directory is a cache of Stripe's customers (sealed values; dropped whole).
  const redisKeys = [`directory:user:${userId}`, ...[...customers].map((c) => `directory:customer:${c}`)];
  count('redis:directory', await rt.redis.del(...redisKeys));

  const now = Date.now();
  await rt.db.query("UPDATE privacy.erasures SET steps = jsonb_build_object('purged', $2::jsonb) WHERE erasure_id = $1", [erasureId, JSON.stringify(purged)]);
  const appender = await rt.kafka.appender();
  await appender.append('privacy.erasures.v1', [
    {
      key: userId,
      record: 'UserErased',
      value: { event_id: `erasure:${erasureId}`, occurred_at: now, received_at: Date.parse(before.requested_at), erasure_id: erasureId, user_id: userId, requested_by: before.requested_by, subjects, purged },
    },
  ]);
  await rt.db.query("UPDATE privacy.erasures SET status = 'done', completed_at = now() WHERE erasure_id = $1", [erasureId]);
  log.info({ subjects: subjects.length, destroyed: destroyed.length, purged }, 'user erased');
  const after = await erasureOf(rt, { erasureId });
  if (!after) throw new EventlineError('internal', `erasure ${erasureId} vanished`);
  return after;
}

/** Erasures left pending by a process that stopped, finished again. */
export async function resumeErasures(rt: Runtime, find: SubjectFinder): Promise<number> {
  const { rows } = await rt.db.query<{ erasure_id: string }>("SELECT erasure_id FROM privacy.erasures WHERE status = 'pending' ORDER BY requested_at");
  for (const r of rows) await runErasure(rt, r.erasure_id, find);
  return rows.length;
}

/** The Stripe customer the directory (Redis) links to the user, if any. */
async function directoryCustomerOf(rt: Runtime, userId: string): Promise<string | null> {
  const state = await rt.redis.hget(`directory:user:${userId}`, 's');
  if (!state) return null;
  try {
    const v = JSON.parse(state) as { customerId?: unknown };
    return typeof v.customerId === 'string' ? v.customerId : null;
  } catch {
    return null;
  }
}

/** The user's notification ids known to the read models (every version of the delivery and inbox projections, the outbox is by notification). */
async function notificationsInReadModels(rt: Runtime, userId: string): Promise<string[]> {
  const out = new Set<string>();
  for (const v of await listVersions(rt.db)) {
    const table = v.projection === 'delivery' ? 'notifications' : v.projection === 'inbox' ? 'requests' : null;
    if (!table) continue;
    const exists = await rt.db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${v.schema}.${table}`]);
    if (!exists.rows[0]?.ok) continue;
    const { rows } = await rt.db.query<{ notification_id: string }>(`SELECT notification_id FROM ${v.schema}.${table} WHERE user_id = $1`, [userId]);
    for (const r of rows) out.add(r.notification_id);
  }
  return [...out];
}
