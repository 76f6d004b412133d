/**
 * What sealing personal data costs (ADR 0018), measured side by side in one run on the same code:
 * two environments get the same generated Stripe history, one as generated (names, emails, phones,
 * addresses: sealed at append, a data key per customer created on first use), the other with those
 * members emptied (nothing to seal, no key looked up). Nothing is switched off: the difference is
 * what sealing does.
 *
 * - Ingest: signed webhooks per second through `eventline run --only http` (HTTP, signature, seal,
 *   Avro, append with acks=all, 200), closed loop, the two alternating in halves.
 * - Append: the rest of the history appended by the appender alone (no HTTP).
 * - Replay: the MRR projection rebuilt from each topic, twice each, alternating. A replay opens
 *   nothing; what it pays for is the larger payloads.
 */
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { buildVersion } from '../lib/projection.ts';
import { sealJson } from '../lib/privacy/records.ts';
import { mrrProjection } from '../projections/mrr/main.ts';
import { stripeHistory } from '../cli/demo/stripe-history.ts';
import { appendStripeEvents } from '../test/support/stripe-records.ts';
import { drive, secret } from './stripe-webhooks.ts';
import { benchEnv, freePort, machine, saveResult, startEventline, type BenchEnv } from './support.ts';

interface Variant {
  readonly name: 'sealed' | 'plain';
  readonly env: BenchEnv;
  readonly port: number;
  readonly bodies: readonly string[];
  readonly events: readonly Record<string, unknown>[];
}

const rate = (n: number, seconds: number) => Math.round(n / seconds);

export async function privacyCostBench(options: { customers: number; webhooks: number; concurrency: number }): Promise<void> {
  const history = stripeHistory({ customers: options.customers, seed: 18, from: Date.UTC(2024, 0, 1) / 1000, to: Date.UTC(2026, 0, 1) / 1000 });
  const personal = history.map((e) => JSON.stringify(e));
  // The same events with every member the sealer would seal emptied (the sealer's own walk).
  const plain = await Promise.all(personal.map((text) => sealJson(text, () => Promise.resolve(''))));
  const webhooks = Math.min(options.webhooks, history.length);
  const variants: Variant[] = [];
  const children = [];
  try {
    for (const [name, bodies] of [['sealed', personal], ['plain', plain]] as const) {
      const env = await benchEnv(`privacy-${name}`, { STRIPE_WEBHOOK_SECRET: secret });
      await createTopics(env.rt.kafka);
      await registerSchemas(env.rt.kafka);
      const port = await freePort();
      children.push(await startEventline(env.env, 'http', port));
      variants.push({ name, env, port, bodies, events: bodies.map((b) => JSON.parse(b) as Record<string, unknown>) });
    }
    const [sealed, unsealed] = variants as [Variant, Variant];

    // Ingest: a warm-up, then each half of the webhooks, alternating (plain first, then sealed).
    const warm = Math.min(500, Math.floor(webhooks / 10));
    for (const v of variants) await drive(v.port, v.bodies.slice(0, warm), options.concurrency);
    const ingest = { sealed: { n: 0, seconds: 0, failures: 0 }, plain: { n: 0, seconds: 0, failures: 0 } };
    const half = Math.floor((webhooks - warm) / 2);
    for (const [from, to] of [[warm, warm + half], [warm + half, webhooks]] as const) {
      for (const v of [unsealed, sealed]) {
        const run = await drive(v.port, v.bodies.slice(from, to), options.concurrency);
        ingest[v.name].n += to - from;
        ingest[v.name].seconds += run.seconds;
        ingest[v.name].failures += run.failures;
      }
    }

    // Append: the rest of the history through the appender alone.
    const append = { sealed: 0, plain: 0 };
    for (const v of [unsealed, sealed]) {
      const t0 = performance.now();
      await appendStripeEvents(v.env.rt.kafka, v.events.slice(webhooks));
      append[v.name] = (performance.now() - t0) / 1000;
    }
    const rest = history.length - webhooks;

    // Sizes on the topic, and the keys created.
    const bytes = { sealed: 0, plain: 0 };
    for (const v of variants) await v.env.rt.kafka.readToEnd('stripe.events.v1', (r) => void (bytes[v.name] += r.raw.value?.length ?? 0));
    const keys = (await sealed.env.rt.db.query<{ n: number }>('SELECT count(*)::int AS n FROM privacy.subject_keys')).rows[0]?.n ?? 0;

    // Replay: the MRR projection rebuilt from each topic, twice each, alternating.
    const replay = { sealed: [] as number[], plain: [] as number[] };
    for (let round = 0; round < 2; round++) {
      for (const v of [unsealed, sealed]) {
        const t0 = performance.now();
        await buildVersion(v.env.rt, mrrProjection, { fresh: true, activate: false });
        replay[v.name].push((performance.now() - t0) / 1000);
      }
    }
    const best = (xs: number[]) => Math.min(...xs);
    const result = {
      machine: machine(),
      customers: options.customers,
      stripeEvents: history.length,
      webhooks,
      concurrency: options.concurrency,
      subjectKeysCreated: keys,
      ingest: {
        plainPerSec: rate(ingest.plain.n, ingest.plain.seconds),
        sealedPerSec: rate(ingest.sealed.n, ingest.sealed.seconds),
        ratio: +(ingest.plain.seconds / ingest.sealed.seconds).toFixed(3),
        failures: ingest.plain.failures + ingest.sealed.failures,
      },
      append: { events: rest, plainPerSec: rate(rest, append.plain), sealedPerSec: rate(rest, append.sealed), ratio: +(append.plain / append.sealed).toFixed(3) },
      topicBytes: { plain: bytes.plain, sealed: bytes.sealed, ratio: +(bytes.sealed / bytes.plain).toFixed(3) },
      replayMrr: {
        plainSeconds: replay.plain.map((s) => +s.toFixed(2)),
        sealedSeconds: replay.sealed.map((s) => +s.toFixed(2)),
        plainPerSec: rate(history.length, best(replay.plain)),
        sealedPerSec: rate(history.length, best(replay.sealed)),
        ratio: +(best(replay.plain) / best(replay.sealed)).toFixed(3),
      },
    };
    console.log(`\nprivacy cost (${result.machine}; ${options.customers} customers, ${history.length} Stripe events, ${keys} data keys created)`);
    console.log(`  ingest   plain ${result.ingest.plainPerSec} webhooks/s   sealed ${result.ingest.sealedPerSec} webhooks/s   sealed/plain ${result.ingest.ratio}   (${webhooks - warm} each after ${warm} warm-up, ${options.concurrency} connections, failures ${result.ingest.failures})`);
    console.log(`  append   plain ${result.append.plainPerSec} events/s   sealed ${result.append.sealedPerSec} events/s   sealed/plain ${result.append.ratio}   (${rest} events, the appender alone)`);
    console.log(`  topic    plain ${bytes.plain} B   sealed ${bytes.sealed} B   sealed/plain ${result.topicBytes.ratio}`);
    console.log(`  replay   mrr plain ${result.replayMrr.plainPerSec} events/s   sealed ${result.replayMrr.sealedPerSec} events/s   plain/sealed time ${result.replayMrr.ratio}   (best of 2 each)`);
    console.log(`  saved    ${saveResult('privacy-cost', result)}`);
    if (result.ingest.failures > 0) process.exitCode = 1;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    for (const v of variants) await v.env.cleanup();
  }
}
