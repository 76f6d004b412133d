/**
 * The current-preferences table: read one user's document, and apply PreferencesChanged records
 * with "latest (occurred_at, event_id) wins" — idempotent and independent of arrival order, so
 * the API (right after Kafka's ack) and the projection (from the topic) can both write it.
 */
import type { Queryable } from '../../lib/db.ts';
import type { ValueBox } from '../../lib/privacy/records.ts';
import type { PreferencesChanged } from '../../lib/topics.ts';
import { defaultPreferences, plainPreferences, type Preferences } from './document.ts';

export interface StoredPreferences {
  readonly preferences: Preferences;
  readonly changedAt: Date | null;
  readonly eventId: string | null;
}

/**
 * One user's preferences. With `box`, sealed contact fields (written by the projection from the
 * topic, ADR 0018) are opened, so callers compare and send to plain addresses.
 */
export async function readPreferences(db: Queryable, userId: string, options: { forUpdate?: boolean; box?: Pick<ValueBox, 'open'> } = {}): Promise<StoredPreferences> {
  const res = await db.query<{ preferences: Preferences; changed_at: Date; event_id: string }>(
    `SELECT preferences, changed_at, event_id FROM preferences.user_preferences WHERE user_id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [userId],
  );
  const row = res.rows[0];
  if (!row) return { preferences: defaultPreferences(), changedAt: null, eventId: null };
  const preferences = { ...defaultPreferences(), ...row.preferences };
  const box = options.box;
  if (box) {
    const open = async (v: string | null) => (v === null ? null : box.open(v));
    Object.assign(preferences, {
      email: await open(preferences.email),
      phone: await open(preferences.phone),
      suppressions: await Promise.all(preferences.suppressions.map(async (s) => ({ ...s, address: await box.open(s.address) }))),
    });
  }
  return { preferences, changedAt: row.changed_at, eventId: row.event_id };
}

/** Applies changes; for each user only the latest one by (occurred_at, event_id) is kept. */
export async function applyPreferenceChanges(db: Queryable, changes: readonly PreferencesChanged[]): Promise<void> {
  const latest = new Map<string, PreferencesChanged>();
  for (const c of changes) {
    const prev = latest.get(c.user_id);
    if (!prev || c.occurred_at > prev.occurred_at || (c.occurred_at === prev.occurred_at && c.event_id > prev.event_id)) latest.set(c.user_id, c);
  }
  if (latest.size === 0) return;
  const rows = [...latest.values()];
  await db.query(
    `INSERT INTO preferences.user_preferences AS p (user_id, preferences, changed_at, event_id, change, actor)
     SELECT * FROM unnest($1::text[], $2::jsonb[], $3::timestamptz[], $4::text[], $5::text[], $6::text[])
     ON CONFLICT (user_id) DO UPDATE SET
       preferences = excluded.preferences, changed_at = excluded.changed_at, event_id = excluded.event_id,
       change = excluded.change, actor = excluded.actor
     WHERE (excluded.changed_at, excluded.event_id) > (p.changed_at, p.event_id)`,
    [
      rows.map((r) => r.user_id),
      rows.map((r) => JSON.stringify(plainPreferences(r.preferences))),
      rows.map((r) => new Date(r.occurred_at)),
      rows.map((r) => r.event_id),
      rows.map((r) => r.change),
      rows.map((r) => r.actor),
    ],
  );
}
