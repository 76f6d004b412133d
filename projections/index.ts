/** Every versioned projection, by name (for `eventline replay`, `status` and `run`). */
import type { VersionedProjection } from '../lib/projection.ts';
import type { AnyTopicName } from '../lib/topics.ts';
import { deliveryProjection } from './delivery/main.ts';
import { dunningProjection } from './dunning/main.ts';
import { fraudProjection } from './fraud/main.ts';
import { inboxProjection } from './inbox/main.ts';
import { mrrProjection } from './mrr/main.ts';

export const versionedProjections: Readonly<Record<string, VersionedProjection<AnyTopicName>>> = {
  mrr: mrrProjection as VersionedProjection<AnyTopicName>,
  delivery: deliveryProjection as VersionedProjection<AnyTopicName>,
  fraud: fraudProjection as VersionedProjection<AnyTopicName>,
  dunning: dunningProjection as VersionedProjection<AnyTopicName>,
  inbox: inboxProjection as VersionedProjection<AnyTopicName>,
};
