import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { configForNamespace, loadConfig } from './config.ts';
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
    assert.equal(c.http.host, '127.0.0.1', 'listens on the loopback interface only unless HOST says otherwise');
  });

  it('given values, then they are parsed into typed fields', () => {
    const ka = `evl_0123456789ab_${randomBytes(32).toString('base64url')}`;
    const kb = randomBytes(32).toString('base64');
    const c = loadConfig({
      HOST: '0.0.0.0',
      KAFKA_BROKERS: 'k1:9092, k2:9094',
      PORT: '9000',
      EVENTLINE_NAMESPACE: 'staging-2',
      EVENTLINE_API_KEYS: `${ka}, ${kb} ,`,
      EVENTLINE_DEMO: 'off',
      STRIPE_WEBHOOK_SECRET: '  whsec_abc  ',
      SCHEMA_REGISTRY_URL: 'https://registry.example.com/apis/ccompat/v7/',
    });
    assert.deepEqual(c.kafka.brokers, ['k1:9092', 'k2:9094']);
    assert.equal(c.http.port, 9000);
    assert.equal(c.namespace, 'staging-2');
    assert.deepEqual(c.apiKeys, [ka, kb]);
    assert.equal(c.http.host, '0.0.0.0');
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

  it('given OTLP variables, then tracing is on with the traces endpoint first, off when disabled, and a bad endpoint is refused', () => {
    assert.equal(loadConfig({}).tracing.endpoint, null, 'off without an endpoint');
    assert.deepEqual(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'svc').tracing, { endpoint: 'http://collector:4318', serviceName: 'svc' });
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/v1/traces' }).tracing.endpoint, 'https://b/v1/traces');
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'TRUE' }).tracing.endpoint, null);
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing.endpoint, null);
    assert.equal(loadConfig({ OTEL_SERVICE_NAME: 'billing-eventline' }).tracing.serviceName, 'billing-eventline');
    assert.throws(
      () => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }),
      (err: unknown) => isEventlineError(err) && err.code === 'config_invalid' && /OTEL_EXPORTER_OTLP_ENDPOINT/.test(err.message),
    );
  });

  it('given a dunning end action, then it needs STRIPE_API_KEY (the process refuses to start without), and none is the default', () => {
    assert.equal(loadConfig({}).dunning.endAction, 'none');
    assert.equal(loadConfig({ EVENTLINE_DUNNING_END_ACTION: 'cancel', STRIPE_API_KEY: 'rk_test_x' }).dunning.endAction, 'cancel');
    assert.throws(() => loadConfig({ EVENTLINE_DUNNING_END_ACTION: 'mark_uncollectible' }), (err: unknown) => isEventlineError(err, 'config_invalid') && /EVENTLINE_DUNNING_END_ACTION=mark_uncollectible .*STRIPE_API_KEY/.test(err.message));
    assert.throws(() => loadConfig({ EVENTLINE_DUNNING_END_ACTION: 'delete_customer', STRIPE_API_KEY: 'rk_test_x' }), (err: unknown) => isEventlineError(err, 'config_invalid') && /EVENTLINE_DUNNING_END_ACTION/.test(err.message));
  });

  it('given HOST, then an IP address or a host name is taken and anything else refused', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::', '::1', '[::1]', 'localhost', 'eventline.internal']) {
      assert.equal(loadConfig({ HOST: host }).http.host, host.replace(/^\[(.*)\]$/, '$1'), host);
    }
    assert.equal(loadConfig({ HOST: ' ' }).http.host, '127.0.0.1', 'an empty HOST is the default');
    for (const host of ['http://0.0.0.0', '0.0.0.0:8080', 'two words', '-bad-']) {
      assert.throws(() => loadConfig({ HOST: host }), (err: unknown) => isEventlineError(err, 'config_invalid') && /HOST/.test(err.message), host);
    }
  });

  it('given EVENTLINE_API_KEYS with a guessable value, then config validation fails naming the variable but never the key', () => {
    const good = `evl_0123456789ab_${randomBytes(32).toString('base64url')}`;
    const cases = ['changeme', 'bootstrap-secret-1', 'a'.repeat(64), 'test-key-test-key-test-key-test-key-test-key-test', `${randomBytes(20).toString('hex')}`, `evl_0123456789ab_short`, 'has spaces in it and is long enough to pass a length check', `evl_0123456789ab_${'a'.repeat(43)}`, `abcdefghij${'a'.repeat(33)}`];
    for (const bad of cases) {
      assert.throws(
        () => loadConfig({ EVENTLINE_API_KEYS: `${good},${bad}` }),
        (err: unknown) => {
          assert.ok(isEventlineError(err, 'config_invalid'));
          assert.match(err.message, /EVENTLINE_API_KEYS: key 2 of 2 /);
          assert.match(err.message, /eventline keys create|openssl rand/);
          assert.ok(!err.message.includes(bad) && !err.message.includes(good), 'the message does not repeat a key');
          return true;
        },
        bad,
      );
    }
    const hex = randomBytes(32).toString('hex');
    const base64url = randomBytes(32).toString('base64url');
    assert.deepEqual(loadConfig({ EVENTLINE_API_KEYS: `${good},${hex},${base64url}` }).apiKeys, [good, hex, base64url]);
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

describe('configForNamespace', () => {
  const base = loadConfig({ EVENTLINE_NAMESPACE: 'live', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/eventline' });

  it('given a valid namespace, then the same configuration in it, its Kafka client named after it', () => {
    const moved = configForNamespace(base, 'sealed-2026');
    assert.equal(moved.namespace, 'sealed-2026');
    assert.equal(moved.kafka.clientId, 'eventline-sealed-2026');
    assert.deepEqual({ ...moved, namespace: base.namespace, kafka: { ...moved.kafka, clientId: base.kafka.clientId } }, base);
    assert.equal(base.namespace, 'live', 'the original is unchanged');
    assert.ok(Object.isFrozen(moved));
  });

  it('given a namespace EVENTLINE_NAMESPACE would refuse, then config_invalid naming the rule', () => {
    for (const bad of ['Upper', 'has space', 'x'.repeat(41), '-leading']) {
      assert.throws(() => configForNamespace(base, bad), (e: unknown) => isEventlineError(e, 'config_invalid') && /lowercase letters, digits/.test(e.message));
    }
  });
});
