/**
 * eventline status — lag per consumer group and topic, projection versions, processors paused for a
 * state rebuild (since when, who holds the lease), dead-letter queues.
 */
import type { Command } from 'commander';
import { guardedStates, pauseStatus } from '../../lib/decider/index.ts';
import { summarizeDlqs } from '../../lib/dlq.ts';
import { projectionLag } from '../../lib/projection.ts';
import { checkpointName, listVersions } from '../../lib/projection-versions.ts';
import { Runtime } from '../../lib/runtime.ts';
import { topicNames, type AnyTopicName } from '../../lib/topics.ts';
import { versionedProjections } from '../../projections/index.ts';
import { consumerGroups } from '../components.ts';
import { line, table } from '../output.ts';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('consumer lag per group and topic, projection versions and their lag')
    .action(async () => {
      const rt = Runtime.forCli();
      try {
        const rows: (string | number)[][] = [['topic', 'partitions', 'records']];
        const ends = new Map<AnyTopicName, { partition: number; low: string; high: string }[]>();
        for (const topic of topicNames) {
          const offsets = await rt.kafka.topicOffsets(topic).catch(() => []);
          ends.set(topic, offsets);
          rows.push([rt.kafka.names.topic(topic), offsets.length, offsets.reduce((n, o) => n + Number(BigInt(o.high) - BigInt(o.low)), 0)]);
        }
        table(rows);
        line('');
        const lagRows: (string | number)[][] = [['consumer group', 'topic', 'lag (committed offsets)']];
        for (const { group, topics } of consumerGroups) {
          for (const topic of topics) {
            const committed = await rt.kafka.committedOffsets(group, topic).catch(() => []);
            if (committed.every((c) => BigInt(c.offset) < 0n)) {
              // processor.stripe-prices without STRIPE_API_KEY, or a component not run anywhere yet.
              lagRows.push([rt.kafka.names.group(group), topic, 'never committed']);
              continue;
            }
            let lag = 0n;
            for (const o of ends.get(topic) ?? []) {
              const c = committed.find((x) => x.partition === o.partition)?.offset ?? '-1';
              const from = BigInt(c) < 0n ? BigInt(o.low) : BigInt(c);
              if (BigInt(o.high) > from) lag += BigInt(o.high) - from;
            }
            lagRows.push([rt.kafka.names.group(group), topic, lag.toString()]);
          }
        }
        table(lagRows);
        line('');
        const versionRows: (string | number)[][] = [['projection', 'version', 'schema', 'status', 'lag (checkpoints)']];
        for (const v of await listVersions(rt.db)) {
          const def = versionedProjections[v.projection];
          const lag = def && v.status !== 'retired' ? await projectionLag(rt, checkpointName(v), def.topics) : '';
          versionRows.push([v.projection, v.version, v.schema, v.status, lag]);
        }
        table(versionRows);
        line('');
        const states = await Promise.all(guardedStates.map((p) => pauseStatus(rt, p)));
        table([
          ['processor', 'state', 'paused since', 'rebuild lease holder', 'lease expires in'],
          ...states.map((p) => [p.processor, p.paused ? 'PAUSED: rebuilding from the topics' : 'running', p.since ?? '', p.holder ?? (p.paused ? 'nobody (waiting for a taker)' : ''), p.leaseExpiresInMs === null ? '' : `${(p.leaseExpiresInMs / 1000).toFixed(1)} s`]),
        ]);
        const dlqs = await summarizeDlqs(rt);
        line('');
        if (dlqs.length === 0) line('dead letters: none');
        else table([['dead-letter queue', 'dead letters', 'replayed', 'pending'], ...dlqs.map((d) => [d.topic, d.total, d.replayed, d.pending])]);
      } finally {
        await rt.close();
      }
    });
}
