/**
 * What the drivers throw, mapped once to Eventline's codes. A caller that must decide between
 * "retry later" and "this will never work" (a runner choosing between failing the batch and
 * dead-lettering a record, a route choosing its status) asks `fromDriverError(err).canRetry`
 * instead of reading error messages.
 *
 * The rule behind the table: trouble with the server, the connection or the environment (a
 * restart, a failover, a full disk, rotated credentials, a shutdown under a running handler) can
 * go away, so it is retryable and never blames the record being processed; a statement or value
 * the server refuses (constraint, type, syntax, wrong Redis type) fails again on every attempt.
 *
 * Errors are recognised by what each driver puts on them, without importing the drivers (only
 * lib/kafka imports kafkajs):
 * - kafkajs: `name` KafkaJS…, the driver's own `retriable` flag, the broker's protocol `type`;
 * - pg: server errors carry `severity` and a five-character SQLSTATE `code`; client-side
 *   failures are plain Errors with fixed messages, listed here exactly as pg and pg-pool write them;
 * - ioredis: `name` (ReplyError, MaxRetriesPerRequestError, …), the reply's error prefix
 *   (READONLY, LOADING, …), and the fixed messages of its client-side failures;
 * - Node sockets: `code` (ECONNREFUSED, ECONNRESET, …).
 *
 * Anything else is `internal` and not retryable: a record whose handler throws it is dead-lettered.
 */
import { EventlineError, errorMessage, isEventlineError, type ErrorCode } from '../errors.ts';

type Source = 'kafka' | 'postgres' | 'redis' | 'socket';

interface Mapped {
  readonly code: ErrorCode;
  /** Overrides the code's default (a deadlock is a conflict that a retry resolves). */
  readonly canRetry?: boolean;
  readonly message: string;
  readonly detail: { readonly source: Source; readonly code?: string };
}

/** Maps any thrown value to an EventlineError; an EventlineError is returned unchanged. */
export function fromDriverError(err: unknown): EventlineError {
  if (isEventlineError(err)) return err;
  const mapped = kafkaError(err) ?? postgresError(err) ?? redisError(err) ?? socketError(err);
  if (!mapped) return new EventlineError('internal', errorMessage(err), { cause: err });
  return new EventlineError(mapped.code, mapped.message, {
    cause: err,
    detail: mapped.detail,
    ...(mapped.canRetry === undefined ? {} : { canRetry: mapped.canRetry }),
  });
}

function field(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined;
}

function text(value: unknown, name: string): string | undefined {
  const v = field(value, name);
  return typeof v === 'string' ? v : undefined;
}

// kafkajs -------------------------------------------------------------------------------------

/** Broker answers that the record itself is too big: no retry makes it fit. */
const KAFKA_TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

function kafkaError(err: unknown): Mapped | null {
  const name = text(err, 'name');
  if (!name?.startsWith('KafkaJS')) return null;
  // kafkajs' retrier wraps what it gives up on (KafkaJSNonRetriableError, …NumberOfRetriesExceeded);
  // the broker's answer is on the cause.
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; e = field(e, 'cause'), depth++) {
    const type = text(e, 'type');
    if (type !== undefined && KAFKA_TOO_LARGE.has(type)) {
      return { code: 'payload_too_large', message: `Kafka refused a record as too large: ${errorMessage(err)}`, detail: { source: 'kafka', code: type } };
    }
  }
  // kafkajs only gives up after retrying an error it considers retriable (a broker down, a leader
  // moving): it stopped trying, but a later attempt may well succeed.
  const canRetry = name === 'KafkaJSNumberOfRetriesExceeded' || field(err, 'retriable') === true;
  const type = text(err, 'type');
  return { code: 'kafka_unavailable', canRetry, message: `Kafka: ${errorMessage(err)}`, detail: { source: 'kafka', code: type ?? name } };
}

// Postgres ------------------------------------------------------------------------------------

/** A server error: pg-protocol's DatabaseError carries the SQLSTATE and the severity. */
function sqlstateOf(err: unknown): string | null {
  const code = text(err, 'code');
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code) && typeof field(err, 'severity') === 'string' ? code : null;
}

function classifySqlstate(code: string): Pick<Mapped, 'code' | 'canRetry'> {
  const cls = code.slice(0, 2);
  switch (code) {
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
    case '55P03': // lock_not_available
      return { code: 'conflict', canRetry: true };
    case '57014': // query_canceled: statement_timeout, or a cancel request
      return { code: 'timeout' };
    case '40003': // statement_completion_unknown: the connection went away during COMMIT
    case '25006': // read_only_sql_transaction: a standby, or a primary being failed over
    case '3D000': // invalid_catalog_name: the database does not exist (yet)
      return { code: 'database_unavailable' };
    case '23505': // unique_violation
    case '23P01': // exclusion_violation
      return { code: 'conflict' };
  }
  switch (cls) {
    case '08': // connection_exception
    case '28': // invalid_authorization_specification: credentials being rotated
    case '53': // insufficient_resources: disk full, out of memory, too many connections
    case '58': // system_error: I/O errors outside Postgres
      return { code: 'database_unavailable' };
    case '57': // operator_intervention: 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, …
      return code.startsWith('57P') ? { code: 'database_unavailable' } : { code: 'internal' };
    case '22': // data_exception
    case '23': // integrity_constraint_violation
      return { code: 'unprocessable' };
    default: // 42 syntax or undefined object, 0A feature not supported, XX internal, …
      return { code: 'internal' };
  }
}

/** pg and pg-pool's own failures, message for message: the connection is gone or was never made. */
const POSTGRES_CONNECTION_MESSAGES = new Set([
  'Connection terminated',
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'timeout expired',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  // A client or pool closed under a running handler (shutdown): the record is not at fault.
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
]);

function postgresError(err: unknown): Mapped | null {
  const sqlstate = sqlstateOf(err);
  if (sqlstate !== null) {
    const { code, canRetry } = classifySqlstate(sqlstate);
    const prefix = code === 'database_unavailable' ? 'Postgres is unavailable' : 'Postgres';
    return { code, ...(canRetry === undefined ? {} : { canRetry }), message: `${prefix}: ${errorMessage(err)} (SQLSTATE ${sqlstate})`, detail: { source: 'postgres', code: sqlstate } };
  }
  if (err instanceof Error && text(err, 'code') === undefined && POSTGRES_CONNECTION_MESSAGES.has(err.message)) {
    return { code: 'database_unavailable', message: `Postgres is unavailable: ${err.message}`, detail: { source: 'postgres' } };
  }
  return null;
}

// Redis ---------------------------------------------------------------------------------------

/** Error replies whose prefix names a server state that passes (loading, failover, memory, auth). */
const REDIS_RETRYABLE_REPLIES = new Set(['READONLY', 'LOADING', 'BUSY', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN', 'NOREPLICAS', 'MISCONF', 'OOM', 'NOAUTH', 'WRONGPASS']);

/** ioredis' client-side failures, message for message (plain Errors without a code). */
const REDIS_CONNECTION_MESSAGES = new Set([
  'Command timed out',
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
]);

function redisError(err: unknown): Mapped | null {
  if (!(err instanceof Error)) return null;
  const name = err.name;
  if (name === 'ReplyError') {
    const reply = /^[A-Z]+/.exec(err.message)?.[0] ?? '';
    if (REDIS_RETRYABLE_REPLIES.has(reply)) return { code: 'redis_unavailable', message: `Redis is unavailable: ${err.message}`, detail: { source: 'redis', code: reply } };
    return { code: 'internal', message: `Redis refused a command: ${err.message}`, detail: { source: 'redis', code: reply } };
  }
  const connectionLost =
    name === 'MaxRetriesPerRequestError' ||
    name === 'ParserError' ||
    // redis-errors' AbortError (not the DOM one): commands in flight when the connection closed.
    (name === 'AbortError' && err.message === 'Command aborted due to connection close') ||
    (text(err, 'code') === undefined && REDIS_CONNECTION_MESSAGES.has(err.message));
  return connectionLost ? { code: 'redis_unavailable', message: `Redis is unavailable: ${err.message}`, detail: { source: 'redis', code: name } } : null;
}

// Sockets -------------------------------------------------------------------------------------

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * A bare socket error. Of Eventline's drivers only pg rejects with one (kafkajs wraps it in a
 * KafkaJSConnectionError; ioredis, reconnecting with an offline queue, fails its commands with
 * its own errors), so it is reported as database_unavailable.
 */
function socketError(err: unknown): Mapped | null {
  const code = text(err, 'code');
  if (code === undefined || !SOCKET_CODES.has(code)) return null;
  return { code: 'database_unavailable', message: `Postgres is unavailable: ${errorMessage(err)}`, detail: { source: 'socket', code } };
}
