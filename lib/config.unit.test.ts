import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.ts';
import { isEventlineError } from './errors.ts';

describe('config', () => {
  it('given an empty environment, then every contract variable has its local default', () => {
    const c = loadConfig({});
    assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092']);
    assert.equal(c.registry.url, 'http://127.0.0.1:8081/apis/ccompat/v7');
    assert.equal(c.redis.url, 'redis://127.0.0.1:6379');
    assert.equal(c.http.port, 8080);
    assert.equal(c.namespace, null);
    assert.equal(c.demo, true);
    assert.equal(c.stripe.webhookSecret, null);
    assert.deepEqual(c.apiKeys, []);
    assert.equal(c.http.publicUrl, 'http://127.0.0.1:8080');
  });

  it('given values, then they are parsed into typed fields', () => {
    const c = loadConfig({
      KAFKA_BROKERS: 'k1:9092, k2:9094',
      PORT: '9000',
      EVENTLINE_NAMESPACE: 'staging-2',
      EVENTLINE_API_KEYS: 'ka, kb ,',
      EVENTLINE_DEMO: 'off',
      STRIPE_WEBHOOK_SECRET: '  whsec_abc  ',
      SCHEMA_REGISTRY_URL: 'https://registry.example.com/apis/ccompat/v7/',
    });
    assert.deepEqual(c.kafka.brokers, ['k1:9092', 'k2:9094']);
    assert.equal(c.http.port, 9000);
    assert.equal(c.namespace, 'staging-2');
    assert.deepEqual(c.apiKeys, ['ka', 'kb']);
    assert.equal(c.demo, false);
    assert.equal(c.stripe.webhookSecret, 'whsec_abc');
    assert.equal(c.registry.url, 'https://registry.example.com/apis/ccompat/v7');
    assert.equal(c.kafka.clientId, 'eventline-staging-2');
  });

  it('given several bad values, then one config_invalid error lists each of them', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', KAFKA_BROKERS: 'no-port', EVENTLINE_NAMESPACE: 'Has.Dots', REDIS_URL: 'http://x' }),
      (err: unknown) => {
        assert.ok(isEventlineError(err, 'config_invalid'));
        const problems = err.detail as string[];
        for (const v of ['PORT', 'KAFKA_BROKERS', 'EVENTLINE_NAMESPACE', 'REDIS_URL']) {
          assert.ok(problems.some((p) => p.startsWith(v)), `${v} missing from ${problems.join(' | ')}`);
        }
        return true;
      },
    );
  });

  it('is frozen all the way down', () => {
    const c = loadConfig({});
    assert.throws(() => {
      (c.kafka as { appendTimeoutMs: number }).appendTimeoutMs = 1;
    }, TypeError);
    assert.throws(() => {
      (c.kafka.brokers as string[]).push('x:1');
    }, TypeError);
  });
});
