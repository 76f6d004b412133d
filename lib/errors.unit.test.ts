import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, describe, it } from 'node:test';
import { Redis, ReplyError } from 'ioredis';
import type * as KafkaJsModule from 'kafkajs';
import type { KafkaJSProtocolError as ProtocolError } from 'kafkajs';
import pg from 'pg';
import { closedPort, fakePostgres, fakeRedis, type PgError, type WireServer } from '../test/support/wire.ts';
import { EventlineError, fromDriverError, type ErrorCode } from './errors.ts';

// kafkajs is CommonJS and its error classes are not visible to ESM named imports.
const require = createRequire(import.meta.url);
const { Kafka: KafkaJs, KafkaJSConnectionError, KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSRequestTimeoutError, logLevel } =
  require('kafkajs') as typeof KafkaJsModule;
// kafkajs' own protocol error table and retrier, as its produce path uses them.
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode(code: number): ProtocolError };
const retrier = require('kafkajs/src/retry/index.js') as (options: { retries: number; initialRetryTime: number }) => (fn: () => Promise<unknown>) => Promise<unknown>;

/** Kafka protocol error codes (from the Kafka protocol guide). */
const NOT_LEADER_OR_FOLLOWER = 6;
const MESSAGE_TOO_LARGE = 10;
const TOPIC_AUTHORIZATION_FAILED = 29;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

function assertMapped(err: unknown, code: ErrorCode, canRetry: boolean): EventlineError {
  const mapped = fromDriverError(err);
  assert.ok(mapped instanceof EventlineError);
  assert.deepEqual({ code: mapped.code, canRetry: mapped.canRetry }, { code, canRetry }, `mapping of ${String(err)}`);
  assert.equal(mapped.cause, err, 'the driver error is kept as the cause');
  return mapped;
}

describe('fromDriverError', () => {
  describe('given an EventlineError', () => {
    it('when mapped, then the same error comes back unchanged', () => {
      const original = new EventlineError('decode_failed', 'not Avro', { detail: { reason: 'framing' } });
      assert.equal(fromDriverError(original), original);
      const retryable = new EventlineError('provider_failed', 'SendGrid answered 503');
      assert.equal(fromDriverError(retryable).canRetry, true);
    });
  });

  describe('given something no driver threw', () => {
    it('when mapped, then it is internal and not retryable, whatever its message says', () => {
      for (const err of [new Error('no ledger account for poisoned_1'), new Error('template timeout-notice: connection section missing'), new TypeError("Cannot read properties of undefined (reading 'id')"), 'a thrown string', 42]) {
        assertMapped(err, 'internal', false);
      }
    });
  });

  describe('given kafkajs errors', () => {
    it('when the broker cannot be reached, then the real client error is kafka_unavailable and retryable', async () => {
      const port = await closedPort();
      const kafka = new KafkaJs({ clientId: 'errors-test', brokers: [`127.0.0.1:${port}`], connectionTimeout: 500, retry: { retries: 0 }, logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      const err = await rejection(admin.connect());
      assert.ok(err instanceof KafkaJSError, String(err));
      assertMapped(err, 'kafka_unavailable', true);
      await admin.disconnect();
    });

    it('when kafkajs gave up retrying a retriable answer, then a later attempt may succeed', async () => {
      const err = await rejection(retrier({ retries: 1, initialRetryTime: 1 })(async () => {
        throw createErrorFromCode(NOT_LEADER_OR_FOLLOWER);
      }));
      assert.ok(err instanceof KafkaJSNumberOfRetriesExceeded);
      assert.equal(err.retriable, false, 'kafkajs itself will not retry it any more');
      assertMapped(err, 'kafka_unavailable', true);
    });

    it('when a connection or request fails, then canRetry is the driver flag', () => {
      assertMapped(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { broker: '127.0.0.1:9092', code: 'ECONNREFUSED' }), 'kafka_unavailable', true);
      assertMapped(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out', { broker: '127.0.0.1:9092', clientId: 'eventline', correlationId: 7, createdAt: 0, sentAt: 0, pendingDuration: 0 }), 'kafka_unavailable', true);
      assertMapped(createErrorFromCode(NOT_LEADER_OR_FOLLOWER), 'kafka_unavailable', true);
      assertMapped(createErrorFromCode(TOPIC_AUTHORIZATION_FAILED), 'kafka_unavailable', false);
      assertMapped(new KafkaJSNonRetriableError(new TypeError('value.toBuffer is not a function')), 'kafka_unavailable', false);
    });

    it('when the broker refuses a record as too large, raw or wrapped by the retrier, then payload_too_large and not retryable', async () => {
      const raw = createErrorFromCode(MESSAGE_TOO_LARGE);
      assertMapped(raw, 'payload_too_large', false);
      const wrapped = await rejection(retrier({ retries: 3, initialRetryTime: 1 })(async () => {
        throw createErrorFromCode(MESSAGE_TOO_LARGE);
      }));
      assert.ok(wrapped instanceof KafkaJSNonRetriableError);
      assert.notEqual((wrapped as { type?: string }).type, 'MESSAGE_TOO_LARGE', 'the wrapper does not carry the type itself');
      assertMapped(wrapped, 'payload_too_large', false);
    });
  });

  describe('given pg errors from a server', () => {
    let server: WireServer | undefined;
    after(() => server?.close());

    async function queryError(onQuery: PgError | 'drop'): Promise<unknown> {
      await server?.close();
      server = await fakePostgres({ onQuery });
      const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'eventline', database: 'eventline' });
      client.on('error', () => undefined);
      await client.connect();
      const err = await rejection(client.query('SELECT 1'));
      await client.end().catch(() => undefined);
      return err;
    }

    async function connectError(onStartup: PgError | 'drop'): Promise<unknown> {
      await server?.close();
      server = await fakePostgres({ onStartup });
      const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'eventline', database: 'eventline' });
      client.on('error', () => undefined);
      return rejection(client.connect());
    }

    const cases: readonly [PgError, ErrorCode, boolean][] = [
      [{ severity: 'ERROR', code: '40P01', message: 'deadlock detected' }, 'conflict', true],
      [{ severity: 'ERROR', code: '40001', message: 'could not serialize access due to concurrent update' }, 'conflict', true],
      [{ severity: 'ERROR', code: '55P03', message: 'could not obtain lock on row in relation "projection_checkpoints"' }, 'conflict', true],
      [{ severity: 'ERROR', code: '57014', message: 'canceling statement due to statement timeout' }, 'timeout', true],
      [{ severity: 'FATAL', code: '57P01', message: 'terminating connection due to administrator command' }, 'database_unavailable', true],
      [{ severity: 'ERROR', code: '53100', message: 'could not extend file "base/16384/16385": No space left on device' }, 'database_unavailable', true],
      [{ severity: 'FATAL', code: '08006', message: 'connection failure' }, 'database_unavailable', true],
      [{ severity: 'ERROR', code: '23505', message: 'duplicate key value violates unique constraint "notifications_pkey"' }, 'conflict', false],
      [{ severity: 'ERROR', code: '23503', message: 'insert or update on table "a" violates foreign key constraint "a_b_fkey"' }, 'unprocessable', false],
      [{ severity: 'ERROR', code: '22P02', message: 'invalid input syntax for type uuid: "nope"' }, 'unprocessable', false],
      [{ severity: 'ERROR', code: '42P01', message: 'relation "nope" does not exist' }, 'internal', false],
      [{ severity: 'ERROR', code: '42601', message: 'syntax error at or near "SELEC"' }, 'internal', false],
    ];
    for (const [answer, code, canRetry] of cases) {
      it(`when a query is answered ${answer.code} (${answer.message}), then ${code}, ${canRetry ? '' : 'not '}retryable`, async () => {
        const err = await queryError(answer);
        assert.ok(err instanceof pg.DatabaseError, String(err));
        assert.equal(err.code, answer.code);
        const mapped = assertMapped(err, code, canRetry);
        assert.match(mapped.message, new RegExp(answer.code));
      });
    }

    it('when the server goes away in the middle of a query, then database_unavailable and retryable', async () => {
      assertMapped(await queryError('drop'), 'database_unavailable', true);
    });

    it('when the server refuses the connection while starting up or for its credentials, then database_unavailable and retryable', async () => {
      assertMapped(await connectError({ severity: 'FATAL', code: '57P03', message: 'the database system is starting up' }), 'database_unavailable', true);
      assertMapped(await connectError({ severity: 'FATAL', code: '53300', message: 'sorry, too many clients already' }), 'database_unavailable', true);
      assertMapped(await connectError({ severity: 'FATAL', code: '28P01', message: 'password authentication failed for user "eventline"' }), 'database_unavailable', true);
      assertMapped(await connectError('drop'), 'database_unavailable', true);
    });
  });

  describe('given pg errors without a server', () => {
    it('when nothing listens, then the socket error is database_unavailable and retryable', async () => {
      const port = await closedPort();
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'eventline', database: 'eventline' });
      const err = await rejection(client.connect());
      assert.equal((err as { code?: string }).code, 'ECONNREFUSED');
      assertMapped(err, 'database_unavailable', true);
    });

    it('when the pool gives up waiting for a connection, then database_unavailable and retryable', async () => {
      const server = await fakePostgres({ onQuery: 'drop' });
      const pool = new pg.Pool({ host: '127.0.0.1', port: server.port, user: 'eventline', database: 'eventline', max: 1, connectionTimeoutMillis: 100 });
      try {
        const held = await pool.connect();
        const err = await rejection(pool.connect());
        held.release();
        assertMapped(err, 'database_unavailable', true);
      } finally {
        await pool.end();
        await server.close();
      }
    });

    it('when a closed client is used, then it is retryable: the record is not at fault', async () => {
      const server = await fakePostgres({});
      const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'eventline', database: 'eventline' });
      await client.connect();
      await client.end();
      assertMapped(await rejection(client.query('SELECT 1')), 'database_unavailable', true);
      await server.close();
    });
  });

  describe('given ioredis errors', () => {
    const servers: WireServer[] = [];
    const clients: Redis[] = [];
    after(async () => {
      for (const c of clients) c.disconnect();
      for (const s of servers) await s.close();
    });

    async function commandError(options: { reply?: string | null; port?: number; maxRetriesPerRequest?: number; reconnect?: boolean; commandTimeout?: number }): Promise<unknown> {
      let port = options.port;
      if (port === undefined) {
        const server = await fakeRedis(options.reply ?? null);
        servers.push(server);
        port = server.port;
      }
      const client = new Redis({
        host: '127.0.0.1',
        port,
        lazyConnect: true,
        enableReadyCheck: false,
        disableClientInfo: true,
        maxRetriesPerRequest: options.maxRetriesPerRequest ?? 0,
        retryStrategy: options.reconnect ? () => 20 : () => null,
        ...(options.commandTimeout === undefined ? {} : { commandTimeout: options.commandTimeout }),
      });
      client.on('error', () => undefined);
      clients.push(client);
      return rejection(client.set('dispatch:cap:u1', '1'));
    }

    it('when a replica, or a server loading its data, refuses a write, then redis_unavailable and retryable', async () => {
      const readonly = await commandError({ reply: "-READONLY You can't write against a read only replica.\r\n" });
      assert.ok(readonly instanceof ReplyError);
      assertMapped(readonly, 'redis_unavailable', true);
      assertMapped(await commandError({ reply: '-LOADING Redis is loading the dataset in memory\r\n' }), 'redis_unavailable', true);
    });

    it('when the command is wrong for the data (WRONGTYPE, unknown command), then not retryable', async () => {
      const wrongType = await commandError({ reply: '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n' });
      assert.ok(wrongType instanceof ReplyError);
      assertMapped(wrongType, 'internal', false);
      assertMapped(await commandError({ reply: "-ERR unknown command 'FCALL', with args beginning with: \r\n" }), 'internal', false);
    });

    it('when Redis does not answer in time, then redis_unavailable and retryable', async () => {
      const err = await commandError({ reply: null, commandTimeout: 50 });
      assertMapped(err, 'redis_unavailable', true);
    });

    it('when Redis cannot be reached, then redis_unavailable and retryable, reconnecting or not', async () => {
      const port = await closedPort();
      const retriesExhausted = await commandError({ port, reconnect: true, maxRetriesPerRequest: 1 });
      assert.equal((retriesExhausted as Error).name, 'MaxRetriesPerRequestError');
      assertMapped(retriesExhausted, 'redis_unavailable', true);
      assertMapped(await commandError({ port, reconnect: false }), 'redis_unavailable', true);
    });
  });

  describe('given a bare socket error', () => {
    it('when mapped, then database_unavailable and retryable', () => {
      for (const code of ['ECONNRESET', 'EPIPE', 'ETIMEDOUT']) {
        const err = Object.assign(new Error(`write ${code}`), { code, errno: -1, syscall: 'write' });
        assertMapped(err, 'database_unavailable', true);
      }
    });
  });
});
