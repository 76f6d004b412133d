/**
 * Versions of a projection's tables, for rebuilds without downtime. A version is a schema
 * (<name>_v<N>) made from the projection's DDL template; the analytics views read the active one.
 * Creating a version never touches the active one; activating swaps the views in one transaction,
 * so an analyst's query sees either the old numbers or the new ones, never a mix.
 */
import type { Db, DbClient } from './db.ts';
import { EventlineError } from './errors.ts';

export interface VersionedTables {
  /** e.g. "mrr": schemas mrr_v1, mrr_v2 …, consumer groups projection.mrr.v1 … */
  readonly name: string;
  /** Bumped when tables or logic change; a running process then rebuilds into a new version. */
  readonly revision: number;
  /** DDL creating the tables inside `schema`. */
  tables(schema: string): string;
  /**
   * DDL creating the secondary indexes (`CREATE INDEX IF NOT EXISTS`) inside `schema`: run right
   * after `tables` for a version applied batch by batch, and after the load for a bulk rebuild.
   */
  indexes?(schema: string): string;
  /** DDL creating the analytics views over `schema` (with COMMENTs). */
  views(schema: string): string;
  /** The analytics views `views` creates (dropped before they are created again). */
  readonly viewNames: readonly string[];
  /**
   * Validates settings for a side version (e.g. MRR's policy) and returns their stored form; throws
   * a bad_request naming each problem. A projection without it takes no settings.
   */
  parseSettings?(json: unknown): Record<string, unknown>;
}

export interface ProjectionVersion {
  readonly projection: string;
  readonly version: number;
  readonly schema: string;
  readonly revision: number;
  readonly status: 'building' | 'active' | 'retired' | 'snapshot' | 'side';
  /** loading: a bulk rebuild is filling the fact tables; live: applied batch by batch. */
  readonly phase: 'loading' | 'live';
  readonly until: Date | null;
  readonly createdAt: Date;
  readonly activatedAt: Date | null;
  /** What the version computes with (null: the projection's default). */
  readonly settings: Record<string, unknown> | null;
}

const IDENT = /^[a-z_][a-z0-9_]{0,50}$/;

export function checkpointName(v: Pick<ProjectionVersion, 'projection' | 'version'>): string {
  return `${v.projection}@v${v.version}`;
}

export function groupName(v: Pick<ProjectionVersion, 'projection' | 'version'>): string {
  return `projection.${v.projection}.v${v.version}`;
}

type Row = {
  projection: string;
  version: number;
  schema_name: string;
  revision: number;
  status: ProjectionVersion['status'];
  phase: ProjectionVersion['phase'];
  until: Date | null;
  created_at: Date;
  activated_at: Date | null;
  settings: Record<string, unknown> | null;
};

function toVersion(r: Row): ProjectionVersion {
  return {
    projection: r.projection,
    version: r.version,
    schema: r.schema_name,
    revision: r.revision,
    status: r.status,
    phase: r.phase,
    until: r.until,
    createdAt: r.created_at,
    activatedAt: r.activated_at,
    settings: r.settings ?? null,
  };
}

async function locked<T>(db: Db, name: string, fn: (client: DbClient) => Promise<T>): Promise<T> {
  return db.transaction(async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('projection-versions:' || $1, 0))", [name]);
    return fn(client);
  });
}

export async function listVersions(db: Db, name?: string): Promise<ProjectionVersion[]> {
  const res = await db.query<Row>(
    `SELECT * FROM public.projection_versions ${name ? 'WHERE projection = $1' : ''} ORDER BY projection, version`,
    name ? [name] : [],
  );
  return res.rows.map(toVersion);
}

export async function activeVersion(db: Db, name: string): Promise<ProjectionVersion | null> {
  const res = await db.query<Row>("SELECT * FROM public.projection_versions WHERE projection = $1 AND status = 'active'", [name]);
  return res.rows[0] ? toVersion(res.rows[0]) : null;
}

interface CreateOptions {
  readonly until?: Date | null;
  readonly bulk?: boolean;
  /** A side version with these (validated) settings; without, a rebuild takes the active version's. */
  readonly side?: Record<string, unknown>;
}

async function createIn(client: DbClient, def: VersionedTables, options: CreateOptions = {}): Promise<ProjectionVersion> {
  const until = options.until ?? null;
  const bulk = options.bulk ?? false;
  const settings = options.side ?? (await client.query<{ settings: unknown }>("SELECT settings FROM public.projection_versions WHERE projection = $1 AND status = 'active'", [def.name])).rows[0]?.settings ?? null;
  const next = await client.query<{ n: number }>('SELECT COALESCE(max(version), 0) + 1 AS n FROM public.projection_versions WHERE projection = $1', [def.name]);
  const version = next.rows[0]?.n ?? 1;
  const schema = `${def.name}_v${version}`;
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.query(def.tables(schema));
  if (!bulk && def.indexes) await client.query(def.indexes(schema));
  const res = await client.query<Row>(
    'INSERT INTO public.projection_versions (projection, version, schema_name, revision, status, until, phase, settings) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *',
    [def.name, version, schema, def.revision, options.side ? 'side' : until ? 'snapshot' : 'building', until, bulk ? 'loading' : 'live', settings === null ? null : JSON.stringify(settings)],
  );
  return toVersion(res.rows[0] as Row);
}

async function activateIn(client: DbClient, def: VersionedTables, version: number): Promise<ProjectionVersion> {
  const res = await client.query<Row>('SELECT * FROM public.projection_versions WHERE projection = $1 AND version = $2', [def.name, version]);
  const row = res.rows[0];
  if (!row) throw new EventlineError('not_found', `${def.name} has no version ${version}`);
  for (const view of def.viewNames) await client.query(`DROP VIEW IF EXISTS analytics.${view} CASCADE`);
  await client.query(def.views(row.schema_name));
  for (const view of def.viewNames) await client.query(`GRANT SELECT ON analytics.${view} TO eventline_analyst`);
  await client.query("UPDATE public.projection_versions SET status = 'retired' WHERE projection = $1 AND status = 'active'", [def.name]);
  const updated = await client.query<Row>(
    "UPDATE public.projection_versions SET status = 'active', activated_at = now() WHERE projection = $1 AND version = $2 RETURNING *",
    [def.name, version],
  );
  return toVersion(updated.rows[0] as Row);
}

/**
 * Creates an empty version (its schema and tables) in status building (or snapshot, for --until);
 * with `bulk`, in phase loading, without its secondary indexes.
 */
export async function createVersion(db: Db, def: VersionedTables, options: { until?: Date; bulk?: boolean } = {}): Promise<ProjectionVersion> {
  if (!IDENT.test(def.name)) throw new EventlineError('config_invalid', `projection name ${def.name} is not a valid identifier`);
  return locked(db, def.name, (client) => createIn(client, def, options));
}

/**
 * The version a rebuild continues: the newest one still building with this code's revision (a
 * rebuild that was killed, or one another process is running), else a new one. Snapshots (--until)
 * are never continued.
 */
export async function resumeOrCreateVersion(db: Db, def: VersionedTables, options: { bulk?: boolean } = {}): Promise<{ version: ProjectionVersion; resumed: boolean }> {
  if (!IDENT.test(def.name)) throw new EventlineError('config_invalid', `projection name ${def.name} is not a valid identifier`);
  return locked(db, def.name, async (client) => {
    const res = await client.query<Row>(
      "SELECT * FROM public.projection_versions WHERE projection = $1 AND status = 'building' AND revision = $2 AND until IS NULL ORDER BY version DESC LIMIT 1",
      [def.name, def.revision],
    );
    if (res.rows[0]) return { version: toVersion(res.rows[0]), resumed: true };
    return { version: await createIn(client, def, { bulk: options.bulk ?? false }), resumed: false };
  });
}

/**
 * The side version `eventline replay <projection> --settings` continues: the newest side version of
 * this revision with the same settings (killed while building, or built earlier and now brought up
 * to date), else a new one.
 */
export async function resumeOrCreateSideVersion(db: Db, def: VersionedTables, settings: Record<string, unknown>, options: { bulk?: boolean } = {}): Promise<{ version: ProjectionVersion; resumed: boolean }> {
  if (!IDENT.test(def.name)) throw new EventlineError('config_invalid', `projection name ${def.name} is not a valid identifier`);
  return locked(db, def.name, async (client) => {
    const res = await client.query<Row>(
      "SELECT * FROM public.projection_versions WHERE projection = $1 AND status = 'side' AND revision = $2 AND settings = $3::jsonb ORDER BY version DESC LIMIT 1",
      [def.name, def.revision, JSON.stringify(settings)],
    );
    if (res.rows[0]) return { version: toVersion(res.rows[0]), resumed: true };
    return { version: await createIn(client, def, { bulk: options.bulk ?? false, side: settings }), resumed: false };
  });
}

/** One version (null when there is no such version). */
export async function getVersion(db: Db, name: string, version: number): Promise<ProjectionVersion | null> {
  const res = await db.query<Row>('SELECT * FROM public.projection_versions WHERE projection = $1 AND version = $2', [name, version]);
  return res.rows[0] ? toVersion(res.rows[0]) : null;
}

/**
 * Whether a version is still loading, holding (until the caller's transaction ends) the lock that
 * `finishLoading` takes exclusively: a batch is either loaded before the finish, and derived by it,
 * or applied after it, never lost in between.
 */
export async function isLoading(client: DbClient, name: string, version: number): Promise<boolean> {
  await client.query("SELECT pg_advisory_xact_lock_shared(hashtextextended('projection-versions:' || $1, 0))", [checkpointName({ projection: name, version })]);
  const res = await client.query<{ phase: string }>('SELECT phase FROM public.projection_versions WHERE projection = $1 AND version = $2', [name, version]);
  return res.rows[0]?.phase === 'loading';
}

/**
 * Ends a version's bulk load: under the version's lock, unless another process did it already,
 * runs `finish` (which derives the read models) and the secondary indexes in the caller's
 * transaction, and marks the version live. Returns false when it was live already.
 */
export async function finishLoading(db: Db, def: VersionedTables, version: number, finish: (client: DbClient, schema: string) => Promise<void>): Promise<boolean> {
  return locked(db, checkpointName({ projection: def.name, version }), async (client) => {
    const res = await client.query<Row>('SELECT * FROM public.projection_versions WHERE projection = $1 AND version = $2', [def.name, version]);
    const row = res.rows[0];
    if (!row) throw new EventlineError('not_found', `${def.name} has no version ${version}`);
    if (row.phase === 'live') return false;
    await finish(client, row.schema_name);
    if (def.indexes) await client.query(def.indexes(row.schema_name));
    await client.query("UPDATE public.projection_versions SET phase = 'live' WHERE projection = $1 AND version = $2", [def.name, version]);
    return true;
  });
}

/** Points the analytics views at `version` and retires the previously active one, atomically. */
export async function activateVersion(db: Db, def: VersionedTables, version: number): Promise<ProjectionVersion> {
  return locked(db, def.name, (client) => activateIn(client, def, version));
}

/** Drops a version that is not active: its schema, its row and its checkpoints. */
export async function dropVersion(db: Db, name: string, version: number): Promise<void> {
  await locked(db, name, async (client) => {
    const res = await client.query<Row>('SELECT * FROM public.projection_versions WHERE projection = $1 AND version = $2', [name, version]);
    const row = res.rows[0];
    if (!row) return;
    if (row.status === 'active') throw new EventlineError('conflict', `${name} v${version} is active; activate another version first`);
    await client.query(`DROP SCHEMA IF EXISTS ${row.schema_name} CASCADE`);
    await client.query('DELETE FROM public.projection_checkpoints WHERE projection = $1', [checkpointName(toVersion(row))]);
    await client.query('DELETE FROM public.projection_versions WHERE projection = $1 AND version = $2', [name, version]);
  });
}

/** The active version, creating and activating version 1 (empty) when there is none yet. */
export async function ensureActive(db: Db, def: VersionedTables): Promise<ProjectionVersion> {
  const active = await activeVersion(db, def.name);
  if (active) return active;
  return locked(db, def.name, async (client) => {
    const again = await client.query<Row>("SELECT * FROM public.projection_versions WHERE projection = $1 AND status = 'active'", [def.name]);
    if (again.rows[0]) return toVersion(again.rows[0]);
    const created = await createIn(client, def);
    return activateIn(client, def, created.version);
  });
}
