/**
 * POST /v1/risk/assess latency under an open-loop load: assessments sent at a fixed arrival rate
 * (request i is due at start + i/rate, answered or not), each latency measured from its scheduled
 * send time (no coordinated omission); p50/p90/p99/max per rate against the target (20 ms p99).
 * The server is one `eventline run --only http,processor.fraud` process: the fraud processor folds
 * the assessments into the windows the next ones read, as in production. 2,000 customers, 5,000
 * cards, 1,000 block-list entries (a tenth of the cards); every block-listed card must be blocked
 * and every assessment must be in risk.fraud-scores.v1 at the end, else the run exits 1.
 *
 * Compared with Kafka's ProducerPerformance at the same rate (acks=all, idempotent, no linger, the
 * record's size): one acknowledged append is the floor of an assessment.
 */
import { Agent, request } from 'node:http';
import { createTopics, registerSchemas } from '../lib/catalogue.ts';
import { changeList } from '../lib/risk/lists.ts';
import { ApiKeys } from '../producers/keys/store.ts';
import { benchEnv, freePort, kafkaProducerPerf, machine, percentile, saveResult, startEventline } from './support.ts';

export interface RiskAssessOptions {
  readonly rates: readonly number[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly targetP99Ms: number;
  readonly kafkaReference: boolean;
}

interface Sent {
  readonly latencyMs: number;
  readonly status: number;
  readonly action: string | null;
  readonly listed: boolean;
}

function post(agent: Agent, port: number, key: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/risk/assess', method: 'POST', agent, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const fingerprint = (i: number) => `fpBench${String(i).padStart(6, '0')}`;

export async function riskAssessBench(o: RiskAssessOptions): Promise<void> {
  const b = await benchEnv('risk-assess', { EVENTLINE_RISK_LISTS_REFRESH_MS: '1000' });
  const port = await freePort();
  let server: Awaited<ReturnType<typeof startEventline>> | null = null;
  try {
    await createTopics(b.rt.kafka);
    await registerSchemas(b.rt.kafka);
    const key = (await new ApiKeys(b.rt.db, []).create('bench', ['publish'])).key;
    // A tenth of the cards on the block list.
    for (let i = 0; i < 5000; i += 5) await changeList(b.rt.db, b.rt.kafka, { change: 'added', list: 'block', kind: 'card_fingerprint', value: fingerprint(i), reason: 'bench', actor: 'bench' });
    server = await startEventline(b.env, 'http,processor.fraud', port);
    const agent = new Agent({ keepAlive: true, maxSockets: 128 });
    let n = 0;
    const runAt = async (rate: number, seconds: number): Promise<Sent[]> => {
      const total = Math.round(rate * seconds);
      const start = performance.now() + 20;
      const out: Promise<Sent>[] = [];
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        const c = n++;
        const card = c % 5000;
        const body = JSON.stringify({ customer_id: `cus_bench${c % 2000}`, amount: 500 + (c % 50) * 100, currency: 'usd', card_fingerprint: fingerprint(card), card_country: 'US', email: `c${c % 2000}@example.com`, ip: `203.0.113.${c % 250}` });
        out.push(
          post(agent, port, key, body).then((r) => ({ latencyMs: performance.now() - due, status: r.status, action: r.status === 200 ? (JSON.parse(r.text) as { action: string }).action : null, listed: card % 5 === 0 })),
        );
      }
      return Promise.all(out);
    };
    const results: Record<string, unknown>[] = [];
    let sent = 0;
    let wrong = 0;
    for (const rate of o.rates) {
      sent += (await runAt(rate, o.warmupSeconds)).length;
      const measured = await runAt(rate, o.seconds);
      sent += measured.length;
      const latencies = measured.map((s) => s.latencyMs).sort((x, y) => x - y);
      const failed = measured.filter((s) => s.status !== 200).length;
      wrong += measured.filter((s) => s.status === 200 && s.listed && s.action !== 'block').length;
      const row = { rate, requests: measured.length, failed, p50Ms: percentile(latencies, 50), p90Ms: percentile(latencies, 90), p99Ms: percentile(latencies, 99), maxMs: latencies.at(-1) ?? NaN };
      results.push(row);
      console.log(`assess ${rate}/s: p50 ${row.p50Ms.toFixed(1)} ms, p90 ${row.p90Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms, max ${row.maxMs.toFixed(1)} ms, failed ${failed} — ${row.p99Ms <= o.targetP99Ms && failed === 0 ? 'within' : 'over'} the ${o.targetP99Ms} ms target`);
    }
    // Every assessment on the topic.
    const topic = `${b.namespace}.risk.fraud-scores.v1`;
    const offsets = await b.rt.kafka.topicOffsets('risk.fraud-scores.v1');
    const onTopic = offsets.reduce((s, p) => s + Number(p.high) - Number(p.low), 0) - 1000;
    console.log(`${sent} assessments sent, ${onTopic} records on ${topic} besides the 1,000 list entries; ${wrong} block-listed cards not blocked`);
    const perfTopic = `${b.namespace}.bench.producer-perf`;
    if (o.kafkaReference) await (await b.rt.kafka.admin()).createTopics({ waitForLeaders: true, topics: [{ topic: perfTopic, numPartitions: 3, replicationFactor: 1 }] });
    const kafka = o.kafkaReference
      ? o.rates.map((rate) => {
          const perf = kafkaProducerPerf(perfTopic, Math.round(rate * (o.seconds + o.warmupSeconds)), 400, { acks: 'all', 'enable.idempotence': 'true', 'linger.ms': '0' }, { throughput: rate, warmupRecords: Math.round(rate * o.warmupSeconds) });
          console.log(`ProducerPerformance ${rate}/s: p50 ${perf.p50Ms} ms, p99 ${perf.p99Ms} ms, max ${perf.maxMs} ms`);
          return { rate, p50Ms: perf.p50Ms, p99Ms: perf.p99Ms, maxMs: perf.maxMs };
        })
      : [];
    const file = saveResult('risk-assess', { machine: machine(), options: o, results, kafka, sent, onTopic, wrong });
    console.log(`saved ${file}`);
    if (wrong > 0 || onTopic < sent || results.some((r) => (r.failed as number) > 0)) process.exitCode = 1;
  } finally {
    server?.kill('SIGTERM');
    await b.cleanup();
  }
}

