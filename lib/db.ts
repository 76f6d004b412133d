/**
 * Postgres: one pool per process, a transaction helper, and database creation for local setups.
 * Only lib/ imports pg; other modules receive the `Db` and its clients.
 */
import pg from 'pg';
import type { Config } from './config.ts';
import { EventlineError, errorMessage, fromDriverError, isEventlineError } from './errors.ts';
import type { Logger } from './log.ts';

export type DbClient = pg.PoolClient;
export type QueryResultRow = pg.QueryResultRow;

/** Anything that runs a query: the pool (`Db`) or a client inside a transaction. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

// int8 and numeric come back as strings by default; amounts in minor units and counts fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export class Db implements Queryable {
  readonly pool: pg.Pool;
  private readonly log: Logger;

  constructor(config: Pick<Config, 'database' | 'service'>, log: Logger, options: { max?: number } = {}) {
    this.log = log.child({ component: 'db' });
    this.pool = new pg.Pool({
      connectionString: config.database.url,
      max: options.max ?? 10,
      application_name: config.service.name,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30000,
    });
    this.pool.on('error', (err) => this.log.warn({ err: err.message }, 'idle database client failed'));
  }

  /** One statement on a pooled connection; a connection that breaks under it is discarded. */
  async query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const client = await this.connect();
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken = err;
      this.log.warn({ err: err.message }, 'database connection failed during a query');
    };
    client.on('error', onError);
    try {
      return await client.query<R>(text, values);
    } catch (err) {
      const mapped = asDbError(err);
      if (isEventlineError(mapped, 'database_unavailable')) broken ??= err instanceof Error ? err : mapped;
      throw mapped;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /**
   * Runs fn in one transaction: COMMIT when it resolves, ROLLBACK when it throws. A connection that
   * fails while checked out (Postgres restarting, an administrator terminating it) is reported as
   * database_unavailable and discarded, never returned to the pool — and never crashes the process.
   */
  async transaction<T>(fn: (client: DbClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken = err;
      this.log.warn({ err: err.message }, 'database connection failed during a transaction');
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        broken ??= rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      });
      throw asDbError(err);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /**
   * A connection from the pool. Not getting one is database_unavailable whatever the reason (refused,
   * timed out, the database not accepting connections, too many clients): the statement never ran.
   */
  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      const mapped = asDbError(err);
      if (isEventlineError(mapped, 'database_unavailable')) throw mapped;
      throw new EventlineError('database_unavailable', `cannot connect to Postgres: ${errorMessage(err)}`, { cause: err });
    }
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Connection-level failures become database_unavailable (retryable, see fromDriverError); SQL
 * errors pass through as pg raised them, so callers can still read their SQLSTATE.
 */
export function asDbError(err: unknown): unknown {
  const mapped = fromDriverError(err);
  return mapped.code === 'database_unavailable' ? mapped : err;
}

/** Creates the database named in the URL when it does not exist (connecting to the `postgres` database). */
export async function ensureDatabase(url: string): Promise<'created' | 'exists'> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new EventlineError('config_invalid', `unsupported database name "${name}"`);
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString() });
  try {
    await client.connect();
  } catch (err) {
    throw new EventlineError('database_unavailable', `cannot reach Postgres at ${target.host}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return 'exists';
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } catch (err) {
      // Another process created it meanwhile.
      if ((err as { code?: string }).code === '42P04') return 'exists';
      throw err;
    }
    return 'created';
  } finally {
    await client.end();
  }
}

/** Drops a database (tests clean up after themselves). */
export async function dropDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * Takes transaction-scoped advisory locks for `keys` (e.g. customer ids) within `scope`, striped
 * into at most `stripes` locks taken in one order, so any two transactions lock in the same order
 * and cannot deadlock. Striping bounds the locks a large batch holds: Postgres' lock table has
 * room for max_locks_per_transaction × max_connections entries (6,400 by default), and a catching-up
 * batch of thousands of distinct keys locked one by one ran out of it ("out of shared memory").
 * Two keys in one stripe only wait for each other more often than they must.
 */
export async function lockKeys(client: DbClient, scope: string, keys: readonly string[], stripes = 512): Promise<void> {
  if (keys.length === 0) return;
  await client.query(
    `SELECT pg_advisory_xact_lock(k) FROM (
       SELECT DISTINCT hashtextextended($1 || (((hashtextextended(key, 0) % $3) + $3) % $3)::text, 0) AS k FROM unnest($2::text[]) AS key
     ) s ORDER BY k`,
    [`${scope}:`, keys, stripes],
  );
}

/**
 * Rows as one statement parameter: `SELECT … FROM ${recordset(columns, 1)}` with
 * `JSON.stringify(rows)` as $1, each row an object with the columns' names (Dates become ISO
 * timestamps, nested objects fill jsonb columns). One native JSON.stringify instead of one array
 * literal per column for `unnest`, which pg builds in JavaScript, escaping every element and
 * formatting every Date: a third of the cost at 1,000 rows (docs/performance.md).
 */
export function recordset(columns: Readonly<Record<string, string>>, param: number): string {
  return `json_to_recordset($${param}::json) AS r(${Object.entries(columns).map(([name, type]) => `${name} ${type}`).join(', ')})`;
}

/**
 * The parameter for `recordset`: the rows as JSON. A string with a lone surrogate (JSON.stringify
 * writes it as an escape, which Postgres refuses: "Unicode low surrogate must follow a high
 * surrogate") is stored with U+FFFD in its place, as pg stores such a string given as text.
 */
export function recordsetParam(rows: readonly object[]): string {
  const json = JSON.stringify(rows);
  if (!/\\ud[89a-f]/i.test(json)) return json;
  return JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'string' ? value.toWellFormed() : value));
}

/**
 * Entries sorted by key (code-unit order). Multi-row writes go in key order, so two writers
 * inserting or updating the same keys (duplicates, concurrent partitions, a rebuild shared by two
 * processes) take the rows' locks in one order and cannot deadlock.
 */
export function inKeyOrder<V>(entries: Iterable<readonly [string, V]>): [string, V][] {
  return [...entries].map(([k, v]): [string, V] => [k, v]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The values of `rows` in key order (see inKeyOrder). */
export function valuesInKeyOrder<V>(rows: ReadonlyMap<string, V>): V[] {
  return inKeyOrder(rows).map(([, v]) => v);
}

/**
 * Inserts `rows` into `table` as one recordset, in key order (see inKeyOrder), a row whose key is
 * there already being a no-op (facts that arrive more than once); returns the `returning` columns
 * of the rows it inserted (none without `returning`).
 */
export async function insertOnce<R extends QueryResultRow>(
  client: DbClient,
  table: string,
  columns: Readonly<Record<string, string>>,
  rows: ReadonlyMap<string, object>,
  returning?: string,
): Promise<R[]> {
  const list = valuesInKeyOrder(rows);
  if (list.length === 0) return [];
  const res = await client.query<R>(
    `INSERT INTO ${table} (${Object.keys(columns).join(', ')})
     SELECT * FROM ${recordset(columns, 1)}
     ON CONFLICT DO NOTHING${returning ? ` RETURNING ${returning}` : ''}`,
    [recordsetParam(list)],
  );
  return res.rows;
}
