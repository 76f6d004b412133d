import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestEnv, eventually, type TestEnv } from '../test/support/env.ts';
import { lockKeys, recordset, recordsetParam } from './db.ts';

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

describe('recordset: rows as one JSON parameter', () => {
  let t: TestEnv;
  before(async () => {
    t = await createTestEnv('recordset');
    await t.rt.db.query('CREATE TABLE rs (id text PRIMARY KEY, at timestamptz, n bigint, score numeric, doc jsonb, note text)');
  });
  after(() => t?.cleanup());

  it('given strings with quotes, backslashes, newlines, non-ASCII and a lone surrogate, dates, nulls and nested objects, then each column reads back as given (the lone surrogate as U+FFFD)', async () => {
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    const rows = [
      { id: 'a"b\\c\n\t{}[],', at, n: 9007199254740991, score: 0.1234, doc: { k: ['x', 1, null, { 'é': 'ü"\\' }] }, note: 'Zoë 🙂 日本' },
      { id: 'lone', at: null, n: null, score: null, doc: null, note: 'bad \ud800 surrogate \udc00 too' },
      { id: '\\ud800 is text here', at, n: -1, score: 1, doc: { s: '\\ud800' }, note: '' },
    ];
    const columns = { id: 'text', at: 'timestamptz', n: 'bigint', score: 'numeric', doc: 'jsonb', note: 'text' };
    await t.rt.db.query(`INSERT INTO rs SELECT * FROM ${recordset(columns, 1)}`, [recordsetParam(rows)]);
    const back = await t.rt.db.query<{ id: string; at: Date | null; n: string | number | null; score: string | null; doc: unknown; note: string }>('SELECT id, at, n, score::float8 AS score, doc, note FROM rs ORDER BY id COLLATE "C"');
    const expected = [...rows]
      .map((r) => ({ ...r, note: r.id === 'lone' ? 'bad \ufffd surrogate \ufffd too' : r.note }))
      .sort((x, y) => (x.id < y.id ? -1 : 1));
    assert.deepEqual(
      back.rows.map((r) => ({ ...r, n: r.n === null ? null : Number(r.n) })),
      expected,
    );
  });
});
