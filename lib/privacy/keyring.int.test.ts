import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { isEventlineError } from '../errors.ts';
import { isSealed } from './crypto.ts';
import { Keyring } from './keyring.ts';

describe('the keyring in Postgres', () => {
  let t: TestEnv;
  let master: Buffer;

  before(async () => {
    t = await createTestEnv('keyring');
    master = Buffer.from(t.env.EVENTLINE_MASTER_KEY ?? '', 'base64');
  });
  after(() => t?.cleanup());

  it('gives two processes racing for a new subject the same key, and another process opens what one sealed', async () => {
    const a = new Keyring(t.rt.db, master);
    const b = new Keyring(t.rt.db, master);
    await a.verify();
    await b.verify();
    const [ka, kb] = await Promise.all([a.keyFor('user:race'), b.keyFor('user:race')]);
    assert.ok(ka && kb);
    assert.deepEqual(ka, kb);
    const token = await a.seal('user:race', 'Ada Lovelace');
    assert.ok(isSealed(token));
    assert.equal(await new Keyring(t.rt.db, master).open(token), 'Ada Lovelace');
    const { rows } = await t.rt.db.query<{ n: number }>("SELECT count(*)::int AS n FROM privacy.subject_keys WHERE subject = 'user:race'");
    assert.equal(rows[0]?.n, 1);
  });

  it('after destroy, every process reads erased once its cache expires, and a late value for the subject is written erased', async () => {
    let now = 1_000_000;
    const writer = new Keyring(t.rt.db, master);
    const other = new Keyring(t.rt.db, master, { cacheMs: 30_000, now: () => now });
    const token = await writer.seal('customer:cus_gone', 'ada@example.com', { email: true });
    assert.equal(await other.open(token), 'ada@example.com');
    assert.deepEqual(await writer.destroy(['customer:cus_gone', 'notification:ntf_never_used'], 'era_test'), ['customer:cus_gone', 'notification:ntf_never_used']);
    assert.deepEqual(await writer.destroy(['customer:cus_gone'], 'era_test'), [], 'destroying again destroys nothing');
    assert.equal(await writer.open(token), 'erased');
    assert.equal(await other.open(token), 'ada@example.com', 'within the cache time the old key is still known to another process');
    now += 30_001;
    assert.equal(await other.open(token), 'erased');
    assert.equal(await other.isErased('customer:cus_gone'), true);
    assert.equal(await other.isErased('customer:cus_alive'), false);
    assert.equal(await writer.seal('customer:cus_gone', 'late@example.com'), 'erased', 'no new key for an erased subject');
    assert.equal(await writer.seal('notification:ntf_never_used', 'x'), 'erased', 'a tombstone without a key');
  });

  it('gives the fields of a batch asking for a new subject at once one statement, a known subject one statement that writes nothing, and answers isErased from a key it holds', async () => {
    const statements: string[] = [];
    const counted = { query: (text: string, values?: unknown[]) => (statements.push(text.trim().split(/\s+/)[0] ?? ''), t.rt.db.query(text, values)) };
    const k = new Keyring(counted as unknown as typeof t.rt.db, master);
    const keys = await Promise.all(Array.from({ length: 12 }, () => k.keyFor('user:batch')));
    assert.ok(keys[0]);
    for (const key of keys) assert.deepEqual(key, keys[0]);
    assert.deepEqual(statements, ['WITH'], 'one lookup for twelve callers: the insert that reads the winner');
    assert.equal(await k.isErased('user:batch'), false);
    assert.deepEqual(statements, ['WITH'], 'the key held answers whether the subject is erased');
    const rowVersion = async () => (await t.rt.db.query<{ v: string }>("SELECT xmin::text AS v FROM privacy.subject_keys WHERE subject = 'user:batch'")).rows[0]?.v;
    const before = await rowVersion();
    statements.length = 0;
    const fresh = new Keyring(counted as unknown as typeof t.rt.db, master);
    const again = await Promise.all([fresh.keyFor('user:batch'), fresh.existingKey('user:batch'), fresh.keyFor('user:batch')]);
    for (const key of again) assert.deepEqual(key, keys[0], 'another process reads the same key');
    assert.deepEqual(statements.sort(), ['SELECT', 'WITH'], 'one statement to create-or-read, one to read');
    assert.equal(await rowVersion(), before, 'the subject with a key was not written');
  });

  it('given a lookup that read the live key before the subject was erased here, when it ends after, then it yields no key, and no later one does', async () => {
    await new Keyring(t.rt.db, master).keyFor('user:late');
    const { db: slow, selected, release } = holdFirstLookup(t);
    const k = new Keyring(slow, master, { cacheSize: 1 });
    const pending = k.keyFor('user:late');
    await selected;
    await k.destroy(['user:late'], 'era_late');
    await k.keyFor('user:other'); // with a cache of one, this evicts the tombstone the destroy cached
    release();
    assert.equal(await pending, null, 'the lookup that began before the erasure yields no key');
    assert.equal(await k.keyFor('user:late'), null);
    assert.equal(await k.seal('user:late', 'Ada'), 'erased');
  });

  it('given a lookup that read the live key before another process erased the subject, when this process found it erased meanwhile, then the lookup ends with no key and the subject stays erased', async () => {
    await new Keyring(t.rt.db, master).keyFor('user:elsewhere');
    const { db: slow, selected, release } = holdFirstLookup(t);
    const k = new Keyring(slow, master);
    const pending = k.keyFor('user:elsewhere');
    await selected;
    await new Keyring(t.rt.db, master).destroy(['user:elsewhere'], 'era_elsewhere');
    assert.equal(await k.isErased('user:elsewhere'), true, 'this process reads the tombstone');
    release();
    assert.equal(await pending, null, 'the lookup that read before the erasure yields no key');
    assert.equal(await k.isErased('user:elsewhere'), true, 'and the subject stays erased here');
    assert.equal(await k.seal('user:elsewhere', 'Ada'), 'erased');
  });

  it('refuses a master key that is not the one the database was set up with', async () => {
    await assert.rejects(new Keyring(t.rt.db, randomBytes(32)).verify(), (e: unknown) => isEventlineError(e, 'config_invalid') && /not the key this database's data keys are wrapped with/.test(e.message));
  });
});

/**
 * A database whose first key lookup (the create-or-read statement) is held once it has read the
 * live key, until `release`: `selected` resolves then. Other statements go through.
 */
function holdFirstLookup(t: TestEnv): { db: TestEnv['rt']['db']; selected: Promise<void>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let readLive!: () => void;
  const selected = new Promise<void>((resolve) => (readLive = resolve));
  let held = false;
  const db = {
    query: async (text: string, values?: unknown[]) => {
      if (held || !text.startsWith('WITH')) return t.rt.db.query(text, values);
      held = true;
      const result = await t.rt.db.query<{ wrapped_key: Buffer | null }>(text, values);
      assert.ok(result.rows[0]?.wrapped_key, 'the held lookup read the live key');
      readLive();
      await gate;
      return result;
    },
  };
  return { db: db as unknown as TestEnv['rt']['db'], selected, release };
}
