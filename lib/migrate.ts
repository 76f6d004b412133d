/**
 * Versioned SQL migrations. Each component keeps its own folder of `NNN_name.sql` files:
 * lib/migrations (core), and <area>/<component>/migrations for producers, processors and projections.
 * Core runs first, then the components alphabetically, each in version order. Every migration runs
 * in its own transaction and is recorded with a checksum; editing an applied migration is an error.
 * A session advisory lock lets several processes start at once.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';
import { EventlineError } from './errors.ts';
import type { Logger } from './log.ts';

export const projectRoot = dirname(dirname(fileURLToPath(import.meta.url)));

export interface Migration {
  readonly component: string;
  readonly version: number;
  readonly name: string;
  readonly file: string;
  readonly sql: string;
  readonly checksum: string;
}

const MIGRATION_FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;
const LOCK_KEY = 727_411_001;

function readFolder(component: string, dir: string): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const seen = new Set<number>();
  return files.map((f) => {
    const m = MIGRATION_FILE.exec(f);
    if (!m) throw new EventlineError('config_invalid', `migration ${join(dir, f)} must be named NNN_name.sql`);
    const version = Number(m[1]);
    if (seen.has(version)) throw new EventlineError('config_invalid', `two migrations numbered ${m[1]} in ${dir}`);
    seen.add(version);
    const sql = readFileSync(join(dir, f), 'utf8');
    return { component, version, name: m[2] ?? f, file: relative(projectRoot, join(dir, f)), sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
}

/** Every migration in the project, in the order they apply. */
export function discoverMigrations(root = projectRoot): Migration[] {
  const out = readFolder('core', join(root, 'lib', 'migrations'));
  const components: { component: string; dir: string }[] = [];
  for (const area of ['producers', 'processors', 'projections']) {
    const areaDir = join(root, area);
    if (!existsSync(areaDir)) continue;
    for (const entry of readdirSync(areaDir, { withFileTypes: true })) {
      const dir = join(areaDir, entry.name, 'migrations');
      if (entry.isDirectory() && existsSync(dir)) components.push({ component: `${area}/${entry.name}`, dir });
    }
  }
  components.sort((a, b) => a.component.localeCompare(b.component));
  for (const c of components) out.push(...readFolder(c.component, c.dir));
  return out;
}

export interface MigrationReport {
  readonly applied: readonly string[];
  readonly alreadyApplied: number;
}

export async function migrate(db: Db, log: Logger, migrations: readonly Migration[] = discoverMigrations()): Promise<MigrationReport> {
  const client = await db.pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS public.eventline_migrations (
      component text NOT NULL,
      version int NOT NULL,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (component, version))`);
    const rows = await client.query<{ component: string; version: number; checksum: string }>(
      'SELECT component, version, checksum FROM public.eventline_migrations',
    );
    const done = new Map(rows.rows.map((r) => [`${r.component}/${r.version}`, r.checksum]));
    for (const m of migrations) {
      const previous = done.get(`${m.component}/${m.version}`);
      if (previous !== undefined) {
        if (previous !== m.checksum) {
          throw new EventlineError('config_invalid', `migration ${m.file} changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      // Roles are cluster-wide while the advisory lock is per database: a migration in another
      // database of the cluster may create the same role at the same moment (unique_violation on
      // pg_authid). The second attempt sees the role and goes through.
      for (let attempt = 1; ; attempt++) {
        try {
          await client.query('BEGIN');
          await client.query(m.sql);
          await client.query('INSERT INTO public.eventline_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)', [
            m.component,
            m.version,
            m.name,
            m.checksum,
          ]);
          await client.query('COMMIT');
          break;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          const code = (err as { code?: string }).code;
          if (attempt < 3 && (code === '23505' || code === '42710') && /pg_authid|role/.test((err as Error).message)) continue;
          throw new EventlineError('internal', `migration ${m.file} failed: ${(err as Error).message}`, { cause: err });
        }
      }
      applied.push(m.file);
      log.info({ migration: m.file }, 'migration applied');
    }
    return { applied, alreadyApplied: migrations.length - applied.length };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
