/**
 * Sealing for unit tests that encode records without a database: the same AES-256-GCM tokens as
 * the keyring (lib/privacy/crypto.ts), with each subject's data key kept in a Map. Integration
 * tests use the real keyring in Postgres.
 */
import { ERASED, newDataKey, open, seal, tokenSubject } from '../../lib/privacy/crypto.ts';
import type { ValueBox } from '../../lib/privacy/records.ts';

export class TestValueBox implements ValueBox {
  readonly keys = new Map<string, Buffer | null>();

  seal(subject: string, plaintext: string, options: { email?: boolean } = {}): Promise<string> {
    if (!this.keys.has(subject)) this.keys.set(subject, newDataKey());
    const key = this.keys.get(subject);
    return Promise.resolve(key ? seal(key, subject, plaintext, options) : ERASED);
  }

  open(value: string): Promise<string> {
    const subject = tokenSubject(value);
    if (subject === null) return Promise.resolve(value);
    const key = this.keys.get(subject);
    return Promise.resolve((key && open(key, value)) ?? ERASED);
  }

  /** Destroys a subject's key, as an erasure does. */
  destroy(subject: string): void {
    this.keys.set(subject, null);
  }
}
