/**
 * Crypto-shredding primitives (ADR 0018). Personal data is sealed with AES-256-GCM under a data key
 * of its subject (a user, or a Stripe customer linked to one); the data keys are wrapped by the
 * master key (EVENTLINE_MASTER_KEY) and kept in Postgres. Destroying a subject's data key makes every
 * value sealed under it unreadable, wherever a copy lives: Kafka's log, a backup, a read model.
 *
 * A sealed value is a printable token that names its subject, so a reader knows which key opens it:
 *
 *   enc.v1.<subject, base64url>.<iv ‖ ciphertext ‖ tag, base64url>
 *
 * An email address keeps its domain in clear after the token (`enc.v1.….…@example.com`): fraud
 * scoring (disposable domains, domain lists) decides on the domain, and a replay must decide the
 * same way without any key. The GCM additional data binds the subject, so a token cannot be moved
 * to another subject. Sealing is deterministic per subject and value (see encrypt).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { EventlineError } from '../errors.ts';

export const ERASED = 'erased';
const PREFIX = 'enc.v1.';
const TOKEN = /^enc\.v1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)(@[^@\s]*)?$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Parses EVENTLINE_MASTER_KEY: 32 bytes, base64 (standard or url alphabet). */
export function parseMasterKey(text: string | null | undefined): Buffer {
  if (text === null || text === undefined || text.trim() === '') {
    throw new EventlineError(
      'config_invalid',
      'EVENTLINE_MASTER_KEY is not set: it wraps the per-subject data keys that encrypt personal data (32 random bytes, base64: `openssl rand -base64 32`); npm start generates a development one into .infra/dev.env',
    );
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(text.trim())) {
    throw new EventlineError('config_invalid', `EVENTLINE_MASTER_KEY must be 32 bytes in base64 (44 characters, e.g. from \`openssl rand -base64 32\`); it decodes to ${key.length} bytes`);
  }
  return key;
}

/** A short, non-secret fingerprint of a key, for error messages and `eventline privacy status`. */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update('eventline-key-fingerprint').update(key).digest('hex').slice(0, 12);
}

/**
 * AES-256-GCM. The IV is random (data keys) or synthetic (values): an HMAC of the value under the
 * key, so the same value of the same subject seals to the same token — a record appended again
 * after a crash is byte-identical, and equal addresses compare equal — while an IV is never reused
 * for two different values (the SIV construction's idea; the only thing it reveals is that two
 * tokens of one subject hold the same value).
 */
function encrypt(key: Buffer, aad: string, plaintext: Buffer, synthetic = false): Buffer {
  const iv = synthetic ? createHmac('sha256', key).update(aad).update('\0').update(plaintext).digest().subarray(0, IV_BYTES) : randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** Null when the key does not open the box (a wrong key, another subject, or tampering). */
function decrypt(key: Buffer, aad: string, box: Buffer): Buffer | null {
  if (box.length < IV_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, box.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(box.subarray(box.length - TAG_BYTES));
    return Buffer.concat([decipher.update(box.subarray(IV_BYTES, box.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}

/** A new random data key. */
export function newDataKey(): Buffer {
  return randomBytes(32);
}

/** The data key wrapped by the master key, bound to its subject. */
export function wrapKey(master: Buffer, subject: string, dataKey: Buffer): Buffer {
  return encrypt(master, `eventline-data-key:${subject}`, dataKey);
}

export function unwrapKey(master: Buffer, subject: string, wrapped: Buffer): Buffer | null {
  return decrypt(master, `eventline-data-key:${subject}`, wrapped);
}

/** True for a string that is a sealed value (with or without an email domain). */
export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX) && TOKEN.test(value);
}

/** The subject a token was sealed for, or null for a string that is not a token. */
export function tokenSubject(value: string): string | null {
  const m = TOKEN.exec(value);
  return m?.[1] ? Buffer.from(m[1], 'base64url').toString('utf8') : null;
}

const EMAIL = /^[^@\s]+@([^@\s]+)$/;

/**
 * Seals a value for a subject. `email` keeps the domain of an address in clear (see above); a value
 * that is not an address is sealed whole.
 */
export function seal(dataKey: Buffer, subject: string, plaintext: string, options: { email?: boolean } = {}): string {
  const domain = options.email ? EMAIL.exec(plaintext)?.[1] : undefined;
  const box = encrypt(dataKey, `eventline-value:${subject}`, Buffer.from(plaintext, 'utf8'), true);
  return `${PREFIX}${Buffer.from(subject, 'utf8').toString('base64url')}.${box.toString('base64url')}${domain ? `@${domain.toLowerCase()}` : ''}`;
}

/** Opens a token with its subject's data key; null when the key does not open it. */
export function open(dataKey: Buffer, token: string): string | null {
  const m = TOKEN.exec(token);
  if (!m?.[1] || !m[2]) return null;
  const subject = Buffer.from(m[1], 'base64url').toString('utf8');
  const plain = decrypt(dataKey, `eventline-value:${subject}`, Buffer.from(m[2], 'base64url'));
  return plain === null ? null : plain.toString('utf8');
}
