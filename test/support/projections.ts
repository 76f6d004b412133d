/** Waiting for projections in tests. */
import { projectionLag } from '../../lib/projection.ts';
import { activeVersion, checkpointName } from '../../lib/projection-versions.ts';
import type { Runtime } from '../../lib/runtime.ts';
import type { AnyTopicName } from '../../lib/topics.ts';
import { eventually } from './env.ts';

/** Waits until the active version of `projection` has applied everything its topics hold now. */
export async function activeVersionCaughtUp(rt: Runtime, projection: string, topics: readonly AnyTopicName[], timeoutMs?: number): Promise<void> {
  await eventually(
    async () => {
      const version = await activeVersion(rt.db, projection);
      return version && (await projectionLag(rt, checkpointName(version), topics)) === 0 ? true : undefined;
    },
    { ...(timeoutMs === undefined ? {} : { timeoutMs }), what: `the active ${projection} version to catch up` },
  );
}
