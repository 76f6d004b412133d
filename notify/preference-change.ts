/**
 * Changing a user's preferences, for every writer (the API, unsubscribe links, provider
 * unsubscribes): under a per-user lock, read the current document, compute the next one, append a
 * PreferencesChanged (whole document after and before, who, why) and, once Kafka acknowledged it,
 * write the current-preferences table — so a GET right after sees the change. A failed append
 * rolls everything back. The projection applies the same record again later, idempotently.
 * Whoever writes, an email or phone that changes loses its confirmation.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { DbClient } from '../lib/db.ts';
import type { Runtime } from '../lib/runtime.ts';
import type { PreferencesChanged } from '../lib/topics.ts';
import { plainPreferences, resetChangedConfirmations, type Preferences } from '../projections/preferences/document.ts';
import { applyPreferenceChanges, readPreferences } from '../projections/preferences/store.ts';

export interface PreferenceChange {
  readonly userId: string;
  readonly change: Exclude<PreferencesChanged['change'], 'unknown'>;
  readonly actor: string;
  readonly reason: string | null;
  readonly source: Exclude<PreferencesChanged['source'], 'unknown'>;
  readonly category: string | null;
  /** The next document; throwing (e.g. a refusal) aborts the change. */
  readonly next: (current: Preferences) => Preferences;
  /** Runs inside the same transaction before the append (e.g. marking a token used); throwing aborts. */
  readonly guard?: (client: DbClient) => Promise<void>;
}

export interface ChangeResult {
  readonly changed: boolean;
  readonly preferences: Preferences;
  readonly event: PreferencesChanged | null;
  /** The event id of the change the current document comes from (this one, or the latest before). */
  readonly eventId: string | null;
  /** The document before this change. */
  readonly previous: Preferences;
}

export async function changePreferences(rt: Runtime, c: PreferenceChange, now: () => number = Date.now): Promise<ChangeResult> {
  return rt.db.transaction(async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('preferences:' || $1, 0))", [c.userId]);
    const current = await readPreferences(client, c.userId, { box: await rt.privacy() });
    await c.guard?.(client);
    const next = plainPreferences(resetChangedConfirmations(current.preferences, c.next(current.preferences)));
    if (current.changedAt !== null && isDeepStrictEqual(next, plainPreferences(current.preferences))) {
      return { changed: false, preferences: current.preferences, event: null, eventId: current.eventId, previous: current.preferences };
    }
    // Strictly after the previous change, so "latest wins" follows the order changes were made.
    const occurredAt = Math.max(now(), (current.changedAt?.getTime() ?? 0) + 1);
    const event: PreferencesChanged = {
      event_id: `pref_${randomUUID()}`,
      occurred_at: occurredAt,
      received_at: occurredAt,
      user_id: c.userId,
      change: c.change,
      actor: c.actor,
      reason: c.reason,
      source: c.source,
      category: c.category,
      preferences: next,
      previous: current.changedAt === null ? null : plainPreferences(current.preferences),
    };
    const appender = await rt.kafka.appender();
    await appender.append('notify.preference-changes.v1', [{ key: c.userId, record: 'PreferencesChanged', value: event }]);
    await applyPreferenceChanges(client, [event]);
    return { changed: true, preferences: next, event, eventId: event.event_id, previous: current.preferences };
  });
}
