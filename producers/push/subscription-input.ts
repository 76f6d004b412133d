/**
 * The body of POST /v1/users/:userId/push-subscriptions: what a browser's
 * `PushSubscription.toJSON()` gives, `{endpoint, expirationTime?, keys: {p256dh, auth}}`, checked
 * strictly before anything is stored.
 *
 * - endpoint: an https URL (the Web Push library sends over https only) naming its push service by
 *   host name: no IP address, no localhost or other local-only name, no credentials or fragment.
 *   Eventline POSTs to it, so an endpoint pointing into the network Eventline runs in is refused.
 *   `allowLoopback` (tests) admits https://127.0.0.1, https://[::1] and https://localhost.
 *   Stored as the URL parser writes it, so two spellings of one URL are one subscription.
 * - keys.p256dh: a P-256 public key, uncompressed point (65 bytes, on the curve), base64url.
 * - keys.auth: 16 bytes, base64url.
 * Both keys in unpadded base64url, as browsers give them. `expirationTime` is accepted (null or
 * epoch milliseconds) and not kept: a push service that has expired a subscription answers 404/410,
 * which removes it.
 */
import { inputProblems } from '../../lib/http/body.ts';
import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { PushSubscriptionInput } from '../../notify/index.ts';

export const MAX_ENDPOINT_LENGTH = 2048;

export interface EndpointPolicy {
  /** Tests: accept endpoints on 127.0.0.1, ::1 and localhost (a local stand-in push service). */
  readonly allowLoopback: boolean;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const LOCAL_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa'];

/** What is wrong with an endpoint, or null. */
export function endpointProblem(text: string, policy: EndpointPolicy): string | null {
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(text)) return 'must not contain whitespace or control characters';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute https URL';
  }
  if (url.protocol !== 'https:') return 'must be an https URL';
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  if (url.hash !== '') return 'must not have a #fragment';
  const host = url.hostname.toLowerCase();
  if (policy.allowLoopback && LOOPBACK_HOSTS.has(host)) return null;
  if (isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0) return 'must name its push service by host name, not by IP address';
  if (!host.includes('.') || host === 'localhost' || LOCAL_SUFFIXES.some((s) => host.endsWith(s))) return 'must name a public push service host';
  return null;
}

/** The bytes of unpadded base64url text, or null when it is not exactly that (no padding, no other alphabet). */
export function base64urlBytes(text: string): Buffer | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  // Canonical only: text whose unused trailing bits are set decodes, but does not round-trip.
  return bytes.toString('base64url') === text ? bytes : null;
}

export function p256dhProblem(text: string): string | null {
  const bytes = base64urlBytes(text);
  if (bytes === null) return 'must be unpadded base64url';
  if (bytes.length !== 65 || bytes[0] !== 0x04) return `must be an uncompressed P-256 point (65 bytes starting 0x04), got ${bytes.length} bytes`;
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: bytes.subarray(1, 33).toString('base64url'), y: bytes.subarray(33).toString('base64url') }, format: 'jwk' });
  } catch {
    return 'is not a point on the P-256 curve';
  }
  return null;
}

export function authProblem(text: string): string | null {
  const bytes = base64urlBytes(text);
  if (bytes === null) return 'must be unpadded base64url';
  if (bytes.length !== 16) return `must be 16 bytes, got ${bytes.length}`;
  return null;
}

const checked = (problem: (v: string) => string | null) => (v: string, ctx: z.RefinementCtx) => {
  const p = problem(v);
  if (p !== null) ctx.addIssue({ code: 'custom', message: p });
};

/** The body schema; the endpoint in the output is the parser's spelling of it. */
export function pushSubscriptionSchema(policy: EndpointPolicy = { allowLoopback: false }) {
  return z
    .object({
      endpoint: z
        .string()
        .max(MAX_ENDPOINT_LENGTH)
        .superRefine(checked((v) => endpointProblem(v, policy)))
        .transform((v) => new URL(v).href),
      expirationTime: z.number().int().nonnegative().nullable().optional(),
      keys: z
        .object({
          p256dh: z.string().max(200).superRefine(checked(p256dhProblem)),
          auth: z.string().max(100).superRefine(checked(authProblem)),
        })
        .strict(),
    })
    .strict();
}

/** For the OpenAPI document. */
export const pushSubscriptionInput = pushSubscriptionSchema();

export type ParsedSubscription = { readonly ok: true; readonly value: PushSubscriptionInput } | { readonly ok: false; readonly problems: readonly string[] };

export function parsePushSubscription(body: unknown, policy: EndpointPolicy): ParsedSubscription {
  const parsed = pushSubscriptionSchema(policy).safeParse(body);
  if (!parsed.success) return { ok: false, problems: inputProblems(parsed.error) };
  return { ok: true, value: { endpoint: parsed.data.endpoint, keys: { p256dh: parsed.data.keys.p256dh, auth: parsed.data.keys.auth } } };
}
