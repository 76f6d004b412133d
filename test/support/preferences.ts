/**
 * A user's stored preferences for tests, as if the preferences API had stored them once: written
 * straight into the read model (no event on the topic), the contacts given already confirmed.
 */
import type { Db } from '../../lib/db.ts';
import { defaultPreferences, type Preferences } from '../../projections/preferences/document.ts';
import { applyPreferenceChanges } from '../../projections/preferences/store.ts';

export async function storedPreferences(db: Db, userId: string, prefs: Partial<Preferences>): Promise<void> {
  await applyPreferenceChanges(db, [
    {
      event_id: `pref_${userId}`,
      occurred_at: 1,
      received_at: 1,
      user_id: userId,
      change: 'updated',
      actor: 'test',
      reason: null,
      source: 'api',
      category: null,
      preferences: { ...defaultPreferences(), email_confirmed_at: prefs.email ? 1 : null, phone_confirmed_at: prefs.phone ? 1 : null, ...prefs },
      previous: null,
    },
  ]);
}
