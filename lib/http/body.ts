/**
 * Body handling shared by the routes: raw bytes (webhook signatures are computed over them),
 * JSON parsed from those bytes with a clear 400, and content-type checks with a clear 415.
 */
import express, { type Request, type RequestHandler } from 'express';
import { EventlineError } from '../errors.ts';

/** Keeps the body as a Buffer (any content type), up to `limit` bytes (else 413). */
export function rawBody(limit: number): RequestHandler {
  return express.raw({ type: () => true, limit });
}

export function bodyBytes(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** Parses the raw body as JSON; 400 bad_request when it is not JSON. */
export function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) throw new EventlineError('bad_request', 'request body is empty; a JSON body is required');
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
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
