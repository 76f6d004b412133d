/**
 * SendGrid's signed event webhook: ECDSA P-256 with SHA-256 over `timestamp + raw body`, the
 * signature base64 DER in X-Twilio-Email-Event-Webhook-Signature, the timestamp in
 * X-Twilio-Email-Event-Webhook-Timestamp, the public key base64 DER (SPKI) from the SendGrid console.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { EventlineError } from '../../lib/errors.ts';

export const SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
export const TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

export function loadSendgridPublicKey(base64Der: string): KeyObject {
  try {
    const key = createPublicKey({ key: Buffer.from(base64Der.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec') throw new Error(`an ${key.asymmetricKeyType} key`);
    return key;
  } catch (err) {
    throw new EventlineError('config_invalid', `SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER EC public key: ${(err as Error).message}`);
  }
}

export type SignatureCheck = { ok: true } | { ok: false; code: 'signature_invalid' | 'timestamp_stale'; detail: string };

export function checkSendgridSignature(
  key: KeyObject,
  signature: string | undefined,
  timestamp: string | undefined,
  body: Buffer,
  nowMs: number,
  toleranceSeconds: number,
): SignatureCheck {
  if (!signature || !timestamp) return { ok: false, code: 'signature_invalid', detail: 'missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp header' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, code: 'signature_invalid', detail: 'the timestamp header is not unix seconds' };
  let valid = false;
  try {
    valid = verify('sha256', Buffer.concat([Buffer.from(timestamp, 'utf8'), body]), key, Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, code: 'signature_invalid', detail: 'the signature does not match the body and timestamp' };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSeconds) {
    return { ok: false, code: 'timestamp_stale', detail: `the signed timestamp is more than ${toleranceSeconds} s away from now` };
  }
  return { ok: true };
}
