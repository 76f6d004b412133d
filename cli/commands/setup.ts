/**
 * eventline migrate | topics create | topics list | schemas register | schemas check | setup
 */
import type { Command } from 'commander';
import { checkSchemas, createTopics, parsePartitionOverrides, registerSchemas } from '../../lib/catalogue.ts';
import { migrate } from '../../lib/migrate.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { ensureDatabase } from '../../lib/db.ts';
import { line, table } from '../output.ts';
import { withRuntime } from '../runtime.ts';

export async function runMigrations(rt: Runtime): Promise<void> {
  await ensureDatabase(rt.config.database.url);
  const report = await migrate(rt.db, rt.log);
  line(`migrations: ${report.applied.length} applied, ${report.alreadyApplied} already in place`);
  for (const f of report.applied) line(`  + ${f}`);
  if (rt.config.analystPassword) {
    // A literal is required by ALTER ROLE; quote it the way Postgres does.
    const quoted = `'${rt.config.analystPassword.replace(/'/g, "''")}'`;
    await rt.db.query(`ALTER ROLE eventline_analyst WITH LOGIN PASSWORD ${quoted}`);
    line('analyst role: password set from EVENTLINE_ANALYST_PASSWORD');
  }
}

export async function runTopicsCreate(rt: Runtime, partitions = ''): Promise<void> {
  const created = await createTopics(rt.kafka, parsePartitionOverrides(partitions));
  table([['topic', 'partitions', 'action'], ...created.map((c) => [c.topic, c.partitions, c.action])]);
}

export async function runSchemasRegister(rt: Runtime): Promise<void> {
  const registered = await registerSchemas(rt.kafka);
  table([['subject', 'id'], ...registered.map((r) => [r.subject, r.id])]);
}

export function registerSetupCommands(program: Command): void {
  program
    .command('migrate')
    .description('create the database if needed and apply pending SQL migrations')
    .action(() => withRuntime(runMigrations));

  const topics = program.command('topics').description('Kafka topics of the catalogue');
  topics
    .command('create')
    .description('create missing topics (and grow partition counts); idempotent')
    .option('-p, --partitions <list>', 'partition counts, e.g. stripe.events.v1=12,notify.dispatches.v1=3', '')
    .action((opts: { partitions: string }) => withRuntime((rt) => runTopicsCreate(rt, opts.partitions)));
  topics
    .command('list')
    .description('topics in this namespace with their partitions and end offsets')
    .action(() =>
      withRuntime(async (rt) => {
        const rows: (string | number)[][] = [['topic', 'partitions', 'records']];
        for (const physical of (await rt.kafka.listTopics()).sort()) {
          const logical = rt.kafka.names.logicalTopic(physical);
          if (!logical) continue;
          const offsets = await rt.kafka.topicOffsets(logical);
          const total = offsets.reduce((n, o) => n + (BigInt(o.high) - BigInt(o.low)), 0n);
          rows.push([physical, offsets.length, total.toString()]);
        }
        table(rows);
      }),
    );

  const schemas = program.command('schemas').description('Avro schemas in the registry');
  schemas
    .command('register')
    .description('register every schema under its subject (TopicRecordNameStrategy); idempotent')
    .action(() => withRuntime(runSchemasRegister));
  schemas
    .command('check')
    .description('check every local schema against the registry (BACKWARD); exits 1 on an incompatible change')
    .action(() =>
      withRuntime(async (rt) => {
        const results = await checkSchemas(rt.kafka);
        table([['subject', 'status', 'messages'], ...results.map((r) => [r.subject, r.status, r.messages.join('; ')])]);
        const bad = results.filter((r) => r.status === 'incompatible');
        if (bad.length > 0) {
          line(`${bad.length} incompatible schema change(s): add fields with defaults, never remove or retype a field without one`);
          process.exitCode = 1;
        }
      }),
    );

  program
    .command('setup')
    .description('migrate, create topics, register schemas (what npm start does before starting)')
    .option('-p, --partitions <list>', 'partition counts, e.g. stripe.events.v1=12', '')
    .action((opts: { partitions: string }) =>
      withRuntime(async (rt) => {
        await runMigrations(rt);
        await runTopicsCreate(rt, opts.partitions);
        await runSchemasRegister(rt);
      }),
    );
}
