/**
 * The data keys of every subject, wrapped by the master key in privacy.subject_keys (ADR 0018).
 *
 * - `verify()` runs at start: the first process seals a check box with its master key; every later
 *   one must open it, else it stops with a clear error (a wrong key would seal new data that no
 *   other process could read, and read nothing sealed before).
 * - A subject's key is created on first use (two processes racing insert once, both read the
 *   winner). A destroyed key stays as a tombstone: a late record for an erased subject is written
 *   with its personal fields erased, never under a new key.
 * - Unwrapped keys are cached for `cacheMs` (30 s): an erasure reaches every process within that,
 *   well inside the 60 s the contract gives.
 */
import type { Queryable } from '../db.ts';
import { EventlineError } from '../errors.ts';
import { ERASED, keyFingerprint, newDataKey, open, seal, tokenSubject, unwrapKey, wrapKey } from './crypto.ts';

const CHECK_SUBJECT = 'eventline-master-key-check';

export interface KeyringOptions {
  readonly cacheMs?: number;
  readonly cacheSize?: number;
  readonly now?: () => number;
}

interface Cached {
  readonly key: Buffer | null;
  readonly at: number;
}

export class Keyring {
  private readonly cache = new Map<string, Cached>();
  private readonly inFlight = new Map<string, Promise<Buffer | null>>();
  /** Subjects this process destroyed: a lookup that began before and ends after caches nothing live. */
  private readonly destroyedHere = new Set<string>();
  private readonly erased = new Map<string, { readonly erased: boolean; readonly at: number }>();
  private readonly cacheMs: number;
  private readonly cacheSize: number;
  private readonly now: () => number;

  constructor(
    private readonly db: Queryable,
    private readonly master: Buffer,
    options: KeyringOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 30_000;
    this.cacheSize = options.cacheSize ?? 50_000;
    this.now = options.now ?? Date.now;
  }

  get fingerprint(): string {
    return keyFingerprint(this.master);
  }

  /** Stops a process whose master key is not the one the database was set up with. */
  async verify(): Promise<void> {
    const box = wrapKey(this.master, CHECK_SUBJECT, Buffer.from(CHECK_SUBJECT));
    await this.db.query('INSERT INTO privacy.master_key (fingerprint, check_box) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [this.fingerprint, box]);
    const { rows } = await this.db.query<{ fingerprint: string; check_box: Buffer }>('SELECT fingerprint, check_box FROM privacy.master_key');
    const stored = rows[0];
    if (!stored || unwrapKey(this.master, CHECK_SUBJECT, stored.check_box)?.toString() !== CHECK_SUBJECT) {
      throw new EventlineError(
        'config_invalid',
        `EVENTLINE_MASTER_KEY is not the key this database's data keys are wrapped with (it has fingerprint ${this.fingerprint}; the database expects ${stored?.fingerprint ?? '?'}): start with the key used before`,
      );
    }
  }

  /** The subject's data key, created on first use; null once destroyed. */
  async keyFor(subject: string): Promise<Buffer | null> {
    const cached = this.cached(subject);
    return cached !== undefined ? cached : this.once(`create:${subject}`, () => this.loadOrCreate(subject));
  }

  /** The subject's data key if it has one, without creating it; null if none or destroyed. */
  async existingKey(subject: string): Promise<Buffer | null> {
    const cached = this.cached(subject);
    return cached !== undefined ? cached : this.once(`read:${subject}`, async () => (await this.load(subject)) ?? null);
  }

  /** Seals a personal value for a subject; an erased subject's value is written as `erased`. */
  async seal(subject: string, plaintext: string, options: { email?: boolean } = {}): Promise<string> {
    const key = await this.keyFor(subject);
    return key ? seal(key, subject, plaintext, options) : ERASED;
  }

  /** Opens a sealed value: the plaintext, `erased` when its key was destroyed; any other string is returned as it is. */
  async open(value: string): Promise<string> {
    const subject = tokenSubject(value);
    if (subject === null) return value;
    const key = await this.existingKey(subject);
    return (key && open(key, value)) ?? ERASED;
  }

  /**
   * Whether the subject was erased (its key destroyed): nothing may be sent to it again. A key this
   * process holds answers it (a live key: not erased; null: erased), as fresh as any cached answer.
   */
  async isErased(subject: string): Promise<boolean> {
    const key = this.cached(subject);
    if (key !== undefined) return key === null;
    const hit = this.erased.get(subject);
    if (hit && this.now() - hit.at <= this.cacheMs) return hit.erased;
    const { rows } = await this.db.query<{ destroyed: boolean }>('SELECT destroyed_at IS NOT NULL AS destroyed FROM privacy.subject_keys WHERE subject = $1', [subject]);
    const erased = rows[0]?.destroyed ?? false;
    if (this.erased.size >= this.cacheSize) this.erased.delete(this.erased.keys().next().value as string);
    this.erased.set(subject, { erased, at: this.now() });
    return erased;
  }

  /** Destroys the keys of these subjects (a tombstone for one never used); returns the subjects destroyed now. */
  async destroy(subjects: readonly string[], erasureId: string): Promise<string[]> {
    if (subjects.length === 0) return [];
    const { rows } = await this.db.query<{ subject: string }>(
      `INSERT INTO privacy.subject_keys (subject, wrapped_key, destroyed_at, erasure_id)
       SELECT s, NULL, now(), $2 FROM unnest($1::text[]) AS s
       ON CONFLICT (subject) DO UPDATE SET wrapped_key = NULL, destroyed_at = now(), erasure_id = EXCLUDED.erasure_id
         WHERE privacy.subject_keys.wrapped_key IS NOT NULL
       RETURNING subject`,
      [subjects, erasureId],
    );
    for (const s of subjects) {
      if (this.destroyedHere.size >= this.cacheSize) this.destroyedHere.delete(this.destroyedHere.values().next().value as string);
      this.destroyedHere.add(s);
      // Callers from now on start a lookup of their own (which reads the tombstone).
      this.inFlight.delete(`create:${s}`);
      this.inFlight.delete(`read:${s}`);
      this.cache.set(s, { key: null, at: this.now() });
      this.erased.set(s, { erased: true, at: this.now() });
    }
    return rows.map((r) => r.subject);
  }

  /**
   * One lookup per subject at a time: the personal fields of a record, and the records of a batch,
   * ask for the same subject's key at once; they share the first one's round trip.
   */
  private once(id: string, lookup: () => Promise<Buffer | null>): Promise<Buffer | null> {
    const running = this.inFlight.get(id);
    if (running) return running;
    const started = lookup().finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, started);
    return started;
  }

  /**
   * Inserts a key unless the subject has one (or a tombstone), and reads the winner, in one
   * statement: a new subject costs one round trip, not a read and then an insert. A subject with a
   * row is not written (ON CONFLICT DO NOTHING finds it first); the key wrapped for it is dropped.
   */
  private async loadOrCreate(subject: string): Promise<Buffer | null> {
    const { rows } = await this.db.query<{ wrapped_key: Buffer | null }>(
      `WITH inserted AS (
         INSERT INTO privacy.subject_keys (subject, wrapped_key) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING RETURNING wrapped_key
       )
       SELECT wrapped_key FROM inserted
       UNION ALL
       SELECT wrapped_key FROM privacy.subject_keys WHERE subject = $1
       LIMIT 1`,
      [subject, wrapKey(this.master, subject, newDataKey())],
    );
    // Empty only when another process's insert committed after this statement's snapshot: read it.
    if (rows.length === 0) {
      const committed = await this.load(subject);
      // Rows are never deleted, so it must be there now; never seal as erased for want of a row.
      if (committed === undefined) throw new EventlineError('database_unavailable', `the data key of ${subject} was neither inserted nor found; retry`);
      return committed;
    }
    return this.remember(subject, rows[0]?.wrapped_key ?? null);
  }

  private cached(subject: string): Buffer | null | undefined {
    const hit = this.cache.get(subject);
    if (!hit) return undefined;
    if (this.now() - hit.at > this.cacheMs) {
      this.cache.delete(subject);
      return undefined;
    }
    return hit.key;
  }

  /** The key (null once destroyed), or undefined when the subject has no row yet (nothing cached then). */
  private async load(subject: string): Promise<Buffer | null | undefined> {
    const { rows } = await this.db.query<{ wrapped_key: Buffer | null }>('SELECT wrapped_key FROM privacy.subject_keys WHERE subject = $1', [subject]);
    if (rows.length === 0) return undefined;
    return this.remember(subject, rows[0]?.wrapped_key ?? null);
  }

  /** Unwraps a stored key (null: destroyed) and caches it. */
  private remember(subject: string, wrapped: Buffer | null): Buffer | null {
    // A key destroyed while this lookup ran stays destroyed (keys never come back): destroyed here,
    // or found destroyed by a lookup or an isErased that read after this one.
    if (this.destroyedHere.has(subject) || this.cache.get(subject)?.key === null || this.erased.get(subject)?.erased === true) return null;
    let key: Buffer | null = null;
    if (wrapped) {
      key = unwrapKey(this.master, subject, wrapped);
      if (!key) throw new EventlineError('config_invalid', `the data key of ${subject} does not open with EVENTLINE_MASTER_KEY (fingerprint ${this.fingerprint})`);
    }
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(subject, { key, at: this.now() });
    return key;
  }
}
