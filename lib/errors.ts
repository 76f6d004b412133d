/**
 * One error class for Eventline with a closed set of codes. `canRetry` tells callers whether the
 * same operation may succeed later (broker down, timeout) or never will (bad input, bad schema).
 * What the drivers (pg, ioredis, kafkajs) throw is mapped to these codes once, by
 * `fromDriverError` (errors/driver.ts).
 */
export const errorCodes = {
  config_invalid: { status: 500, canRetry: false },
  bad_request: { status: 400, canRetry: false },
  unauthorized: { status: 401, canRetry: false },
  forbidden: { status: 403, canRetry: false },
  not_found: { status: 404, canRetry: false },
  conflict: { status: 409, canRetry: false },
  payload_too_large: { status: 413, canRetry: false },
  unsupported_media_type: { status: 415, canRetry: false },
  unprocessable: { status: 422, canRetry: false },
  signature_invalid: { status: 400, canRetry: false },
  timestamp_stale: { status: 400, canRetry: false },
  gone: { status: 410, canRetry: false },
  not_configured: { status: 503, canRetry: false },
  kafka_unavailable: { status: 503, canRetry: true },
  registry_unavailable: { status: 503, canRetry: true },
  schema_not_registered: { status: 500, canRetry: false },
  schema_incompatible: { status: 409, canRetry: false },
  decode_failed: { status: 500, canRetry: false },
  encode_failed: { status: 422, canRetry: false },
  database_unavailable: { status: 503, canRetry: true },
  redis_unavailable: { status: 503, canRetry: true },
  provider_failed: { status: 502, canRetry: true },
  timeout: { status: 504, canRetry: true },
  state_rebuilding: { status: 503, canRetry: true },
  internal: { status: 500, canRetry: false },
} as const satisfies Record<string, { status: number; canRetry: boolean }>;

export type ErrorCode = keyof typeof errorCodes;

export class EventlineError extends Error {
  readonly code: ErrorCode;
  readonly canRetry: boolean;
  readonly status: number;
  readonly detail: unknown;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; detail?: unknown; canRetry?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EventlineError';
    this.code = code;
    this.status = errorCodes[code].status;
    this.canRetry = options.canRetry ?? errorCodes[code].canRetry;
    this.detail = options.detail;
  }
}

export function isEventlineError(err: unknown, code?: ErrorCode): err is EventlineError {
  return err instanceof EventlineError && (code === undefined || err.code === code);
}

/** A readable message for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}

export { fromDriverError } from './errors/driver.ts';
