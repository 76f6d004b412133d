import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestEnv, eventually, type TestEnv } from '../test/support/env.ts';
import { lockKeys } from './db.ts';

describe('lockKeys: striped advisory locks for the keys of a batch', () => {
  let t: TestEnv;
  before(async () => {
    t = await createTestEnv('locks');
  });
  after(() => t?.cleanup());

  const heldAdvisory = async (pid: number) =>
    (await t.rt.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = $1 AND granted", [pid])).rows[0]?.n ?? 0;

  it('given a batch of 20,000 distinct keys, then it locks them in at most 512 stripes instead of exhausting the lock table', async () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `cus_${i}`);
    await t.rt.db.transaction(async (client) => {
      await lockKeys(client, 'test', keys);
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
      const held = await heldAdvisory(pid);
      assert.ok(held > 400 && held <= 512, `${held} locks held`);
    });
  });

  it('given one transaction holds a key, when another locks it among others, then the second waits until the first commits', async () => {
    let releaseFirst: () => void = () => undefined;
    const firstHolds = new Promise<void>((resolve) => {
      const first = t.rt.db.transaction(async (client) => {
        await lockKeys(client, 'test', ['cus_shared']);
        resolve();
        await new Promise<void>((r) => (releaseFirst = r));
      });
      void first;
    });
    await firstHolds;
    let secondDone = false;
    const second = t.rt.db.transaction(async (client) => {
      await lockKeys(client, 'test', ['cus_other', 'cus_shared']);
      secondDone = true;
    });
    await eventually(async () => ((await t.rt.db.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rowCount ? true : undefined), {
      what: 'the second transaction to wait for the shared key',
    });
    assert.equal(secondDone, false);
    releaseFirst();
    await second;
    assert.equal(secondDone, true);
  });
});
