/**
 * The preferences projection: folds notify.preference-changes.v1 into preferences.user_preferences
 * (exactly once per record, checkpoint in the same transaction). Safe to replay.
 */
import type { Projection } from '../../lib/projection.ts';
import { applyPreferenceChanges } from './store.ts';

export const preferencesProjection: Projection<'notify.preference-changes.v1'> = {
  name: 'preferences',
  topics: ['notify.preference-changes.v1'],
  async apply(client, records) {
    await applyPreferenceChanges(
      client,
      records.map((r) => r.value),
    );
  },
};
