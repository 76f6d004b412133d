/**
 * Body handling shared by the routes: raw bytes (webhook signatures are computed over them),
 * JSON parsed from those bytes with a clear 400, and content-type checks with a clear 415.
 *
 * A JSON body must be valid UTF-8 (no silent U+FFFD replacement: a webhook payload is kept byte for
 * byte) and nest at most MAX_JSON_DEPTH objects and arrays. The depth is measured on the bytes,
 * before parsing, so a 10,000-deep body never reaches code that recurses over it.
 */
import express, { type Request, type RequestHandler } from 'express';
import { EventlineError } from '../errors.ts';
import type { z } from 'zod';

/** Keeps the body as a Buffer (any content type), up to `limit` bytes (else 413). */
export function rawBody(limit: number): RequestHandler {
  return express.raw({ type: () => true, limit });
}

export function bodyBytes(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** The deepest nesting of objects and arrays a JSON body may have (every event Eventline takes is far shallower). */
export const MAX_JSON_DEPTH = 32;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** How deeply objects and arrays nest in JSON text, counted on the bytes (brackets inside strings do not count); stops once past `limit`. */
export function jsonDepth(bytes: Uint8Array, limit = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++; // backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
  return deepest;
}

/** The body as JSON text: 400 bad_request unless it is valid UTF-8 nesting at most MAX_JSON_DEPTH levels. */
export function jsonText(bytes: Buffer): string {
  if (jsonDepth(bytes, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new EventlineError('bad_request', `request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new EventlineError('bad_request', 'request body is not valid UTF-8');
  }
}

/** Parses the raw body as JSON; 400 bad_request when it is not JSON, not UTF-8 or nested too deeply. */
export function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) throw new EventlineError('bad_request', 'request body is empty; a JSON body is required');
  const text = jsonText(bytes);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new EventlineError('bad_request', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** 415 unless the request's content type is one of `types` (parameters like charset ignored). */
export function requireContentType(req: Request, types: readonly string[]): void {
  const type = (req.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!types.includes(type)) {
    throw new EventlineError('unsupported_media_type', `content-type must be ${types.join(' or ')}, got ${type || 'none'}`);
  }
}

/** Each problem a schema found in a request's input, one `path: message` line (`(body)` for the whole of it). */
export function inputProblems(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
}

/** The input `schema` makes of `body`, or 422 with `message` and each problem. */
export function validInput<T>(schema: z.ZodType<T>, body: unknown, message: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new EventlineError('unprocessable', message, { detail: inputProblems(parsed.error) });
  return parsed.data;
}
