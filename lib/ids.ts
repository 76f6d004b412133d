/** Ids derived from what caused a thing (an event id, an idempotency key): the same cause, the same id. */
import { createHash } from 'node:crypto';

/** `<prefix>_` and 22 letters and digits of the source's SHA-256: stable, opaque, URL-safe. */
export function derivedId(prefix: string, source: string): string {
  return `${prefix}_${createHash('sha256').update(source).digest('base64url').replace(/[-_]/g, '').slice(0, 22)}`;
}
