import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { fakePostgres, type PgError, type WireServer } from '../test/support/wire.ts';
import { Db } from './db.ts';
import { isEventlineError } from './errors.ts';

const silent = pino({ level: 'silent' });

describe('Db against a server that fails', () => {
  const servers: WireServer[] = [];
  const dbs: Db[] = [];
  after(async () => {
    for (const db of dbs) await db.close().catch(() => undefined);
    for (const s of servers) await s.close();
  });

  async function dbFor(behaviour: { onStartup?: PgError | 'drop'; onQuery?: PgError | 'drop' }): Promise<Db> {
    const server = await fakePostgres(behaviour);
    servers.push(server);
    const db = new Db({ database: { url: `postgres://eventline@127.0.0.1:${server.port}/eventline` }, service: { name: 'db-test', version: '0' } }, silent);
    dbs.push(db);
    return db;
  }

  it('given a database not accepting connections, when queried, then database_unavailable: the statement never ran', async () => {
    const db = await dbFor({ onStartup: { severity: 'FATAL', code: '55000', message: 'database "eventline" is not currently accepting connections' } });
    await assert.rejects(db.query('SELECT 1'), (err: unknown) => isEventlineError(err, 'database_unavailable') && err.canRetry);
    await assert.rejects(db.transaction(async (c) => c.query('SELECT 1')), (err: unknown) => isEventlineError(err, 'database_unavailable'));
  });

  it('given a statement the server refuses, when queried, then pg\'s error comes through with its SQLSTATE', async () => {
    const db = await dbFor({ onQuery: { severity: 'ERROR', code: '42P01', message: 'relation "mrr_daily" does not exist' } });
    const err = await db.query('SELECT * FROM mrr_daily').then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof pg.DatabaseError);
    assert.equal(err.code, '42P01');
    assert.equal(db.pool.totalCount, 1, 'a healthy connection stays in the pool');
  });

  it('given a backend terminated under a query, then database_unavailable, and the connection is not reused', async () => {
    const db = await dbFor({ onQuery: { severity: 'FATAL', code: '57P01', message: 'terminating connection due to administrator command' } });
    await assert.rejects(db.query('SELECT 1'), (err: unknown) => isEventlineError(err, 'database_unavailable') && err.canRetry);
    assert.equal(db.pool.totalCount, 0);
  });
});
