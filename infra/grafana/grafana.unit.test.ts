/**
 * The Grafana dashboards, the Prometheus configuration and alert rules, and their provisioning in
 * docker-compose.kafka.yml: well-formed, and naming only metrics the code registers — a renamed
 * metric fails here, not silently on a blank panel or an alert that never fires.
 *
 * The YAML files are written as JSON (which is YAML too) below a comment block, so this test reads
 * them without a YAML library. `promtool` checks the rules and the configuration where it is installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { BusinessMetrics } from '../../lib/business-metrics.ts';
import { metricsRegistry } from '../../lib/metrics.ts';
import { projectRoot } from '../../lib/migrate.ts';
import { ReadinessMetrics } from '../../lib/readiness-metrics.ts';

const grafanaDir = join(projectRoot, 'infra/grafana');
const prometheusDir = join(projectRoot, 'infra/prometheus');
const composeFile = join(projectRoot, 'docker-compose.kafka.yml');

// ---- What the code exposes ----------------------------------------------------------------------

/** Series names Prometheus stores for what Eventline registers (a histogram is _bucket, _sum, _count). */
async function registeredNames(): Promise<Set<string>> {
  const unread = { transaction: <T>(): Promise<T> => Promise.reject(new Error('this test reads no view')) };
  const business = new BusinessMetrics(unread, { categories: [], log: pino({ level: 'silent' }) });
  const names = new Set<string>();
  for (const registry of [metricsRegistry, business.registry, new ReadinessMetrics().registry]) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
      if (String(m.type) === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${m.name}${suffix}`);
    }
  }
  return names;
}

/** Series Prometheus itself writes for every target. */
const prometheusOwn = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_series_added', 'scrape_samples_post_metric_relabeling']);

// ---- PromQL: the metric names an expression reads -----------------------------------------------

const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * The metric names of a PromQL expression (Grafana variables allowed): identifiers left once strings,
 * label matchers, ranges, grouping label lists and variables are removed, that are neither a
 * function (followed by `(`) nor a keyword.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const out = new Set<string>();
  for (const m of bare.matchAll(/(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const name = m[1] as string;
    if (m[2] === undefined && !keywords.has(name.toLowerCase())) out.add(name);
  }
  return [...out];
}

function unknownNames(expr: string, known: ReadonlySet<string>): string[] {
  return metricNames(expr).filter((n) => !known.has(n) && !prometheusOwn.has(n));
}

// ---- Reading the files --------------------------------------------------------------------------

/** A YAML file of ours: a comment block, then JSON. */
function readJsonYaml(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  const body = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new Error(`${path}: not JSON below its comments (write YAML files here as JSON): ${String(err)}`, { cause: err });
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const objectAt = (v: unknown, what: string): Record<string, Json> => {
  assert.ok(isObject(v), `${what} is an object`);
  return v;
};
const arrayAt = (v: unknown, what: string): Json[] => {
  assert.ok(Array.isArray(v), `${what} is a list`);
  return v as Json[];
};
const stringAt = (v: unknown, what: string): string => {
  assert.ok(typeof v === 'string' && v.trim() !== '', `${what} is a non-empty string`);
  return v;
};

interface Dashboard {
  readonly file: string;
  readonly model: Record<string, Json>;
  /** Every panel, those inside rows included. */
  readonly panels: Record<string, Json>[];
}

function dashboards(): Dashboard[] {
  const dir = join(grafanaDir, 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const model = objectAt(JSON.parse(readFileSync(join(dir, file), 'utf8')), file);
      const panels: Record<string, Json>[] = [];
      for (const p of arrayAt(model.panels, `${file} panels`)) {
        const panel = objectAt(p, `${file} panel`);
        panels.push(panel);
        if (panel.type === 'row') for (const inner of arrayAt(panel.panels ?? [], `${file} row panels`)) panels.push(objectAt(inner, `${file} row panel`));
      }
      return { file, model, panels };
    });
}

const exprsOf = (panel: Record<string, Json>): string[] => arrayAt(panel.targets ?? [], 'targets').map((t) => stringAt(objectAt(t, 'target').expr, 'target expr'));

interface Rule {
  readonly group: string;
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly severity: string;
  readonly summary: string;
  readonly description: string;
}

function alertRules(): Rule[] {
  const doc = objectAt(readJsonYaml(join(prometheusDir, 'alerts.yml')), 'alerts.yml');
  const groups = arrayAt(doc.groups, 'groups');
  assert.ok(groups.length > 0, 'alerts.yml has rule groups');
  return groups.flatMap((g) => {
    const group = objectAt(g, 'group');
    const name = stringAt(group.name, 'group name');
    return arrayAt(group.rules, `${name} rules`).map((r): Rule => {
      const rule = objectAt(r, `a rule of ${name}`);
      const alert = stringAt(rule.alert, `alert name in ${name}`);
      const labels = objectAt(rule.labels, `${alert} labels`);
      const annotations = objectAt(rule.annotations, `${alert} annotations`);
      return {
        group: name,
        alert,
        expr: stringAt(rule.expr, `${alert} expr`),
        for: stringAt(rule.for, `${alert} for`),
        severity: stringAt(labels.severity, `${alert} labels.severity`),
        summary: stringAt(annotations.summary, `${alert} annotations.summary`),
        description: stringAt(annotations.description, `${alert} annotations.description`),
      };
    });
  });
}

// ---- Tests --------------------------------------------------------------------------------------

describe('metric names in PromQL', () => {
  it('given an expression, then its metric names are found, not its functions, labels, keywords, durations or Grafana variables', () => {
    const expr =
      'sum by (group, le) (rate(eventline_batch_duration_seconds_bucket{group=~"projection.+", instance=~"$instance"}[$__rate_interval] offset 5m)) / on (group) group_left(topic) max without (partition) (eventline_consumer_lag) > 1e3 and up{job="eventline"} == 0 or vector(0)';
    assert.deepEqual(metricNames(expr).sort(), ['eventline_batch_duration_seconds_bucket', 'eventline_consumer_lag', 'up']);
  });

  it('given a metric the code does not register (renamed, misspelled), then it is reported', async () => {
    const known = await registeredNames();
    assert.deepEqual(unknownNames('sum by (group) (eventline_consumer_lagg) > 0 and eventline_consumer_lag > 0', known), ['eventline_consumer_lagg']);
    assert.deepEqual(unknownNames('histogram_quantile(0.99, sum by (le) (rate(eventline_append_duration_seconds_bucket[5m])))', known), []);
    assert.deepEqual(unknownNames('eventline_append_duration_seconds_total', known), ['eventline_append_duration_seconds_total']);
  });
});

describe('Grafana dashboards (infra/grafana/dashboards)', () => {
  const all = dashboards();

  it('are dashboard models: unique uid and title, schemaVersion 36 or later, the Prometheus data source variable', () => {
    assert.ok(all.length >= 5, 'ingest, lag, projections, dispatch and business');
    assert.equal(new Set(all.map((d) => d.model.uid)).size, all.length, 'unique uids');
    assert.equal(new Set(all.map((d) => d.model.title)).size, all.length, 'unique titles');
    for (const { file, model } of all) {
      assert.match(stringAt(model.uid, `${file} uid`), /^[a-z0-9-]{1,40}$/, file);
      stringAt(model.title, `${file} title`);
      assert.ok(typeof model.schemaVersion === 'number' && model.schemaVersion >= 36, `${file} schemaVersion ≥ 36`);
      const variables = arrayAt(objectAt(model.templating, `${file} templating`).list, `${file} templating.list`).map((v) => objectAt(v, 'variable'));
      assert.ok(
        variables.some((v) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource' && v.query === 'prometheus'),
        `${file} has the DS_PROMETHEUS data source variable`,
      );
    }
  });

  it('give every panel a unique id and a place on the grid, and every non-row panel Prometheus targets with an expr', () => {
    for (const { file, panels } of all) {
      assert.ok(panels.length > 0, `${file} has panels`);
      const ids = panels.map((p) => p.id);
      assert.ok(ids.every((id) => Number.isInteger(id)), `${file}: integer ids`);
      assert.equal(new Set(ids).size, ids.length, `${file}: unique panel ids`);
      for (const panel of panels) {
        const what = `${file} panel ${String(panel.id)} (${String(panel.title)})`;
        stringAt(panel.title, `${what} title`);
        const grid = objectAt(panel.gridPos, `${what} gridPos`);
        assert.ok(typeof grid.x === 'number' && typeof grid.w === 'number' && grid.x >= 0 && grid.w > 0 && grid.x + grid.w <= 24, `${what} fits the 24 columns`);
        if (panel.type === 'row') continue;
        const ds = objectAt(panel.datasource, `${what} datasource`);
        assert.equal(ds.type, 'prometheus', what);
        assert.ok(ds.uid === '${DS_PROMETHEUS}' || ds.uid === 'prometheus', `${what} uses the Prometheus data source`);
        const targets = arrayAt(panel.targets, `${what} targets`).map((t) => objectAt(t, `${what} target`));
        assert.ok(targets.length > 0, `${what} has targets`);
        assert.equal(new Set(targets.map((t) => t.refId)).size, targets.length, `${what}: unique refIds`);
        for (const t of targets) stringAt(t.expr, `${what} target ${String(t.refId)} expr`);
      }
    }
  });

  it('name only metrics the code registers, in panels and in template variables', async () => {
    const known = await registeredNames();
    for (const { file, model, panels } of all) {
      for (const panel of panels) {
        for (const expr of exprsOf(panel)) assert.deepEqual(unknownNames(expr, known), [], `${file} "${String(panel.title)}": ${expr}`);
      }
      for (const v of arrayAt(objectAt(model.templating, 'templating').list, 'templating.list').map((x) => objectAt(x, 'variable'))) {
        if (v.type !== 'query') continue;
        const query = isObject(v.query) ? stringAt(v.query.query, `${file} variable ${String(v.name)}`) : stringAt(v.query, `${file} variable ${String(v.name)}`);
        const m = /^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{[^}]*\})?\s*,\s*\w+\s*\)$/.exec(query);
        assert.ok(m?.[1], `${file} variable ${String(v.name)}: label_values(metric, label), not ${query}`);
        assert.ok(known.has(m[1]), `${file} variable ${String(v.name)} reads ${m[1]}, which the code does not register`);
      }
    }
  });

  it('show every business metric', async () => {
    const business = new BusinessMetrics({ transaction: <T>(): Promise<T> => Promise.reject(new Error('unused')) }, { categories: [], log: pino({ level: 'silent' }) });
    const shown = new Set(all.flatMap((d) => d.panels.flatMap(exprsOf)).flatMap(metricNames));
    for (const m of await business.registry.getMetricsAsJSON()) assert.ok(shown.has(m.name), `${m.name} has a panel`);
  });
});

describe('Prometheus alert rules (infra/prometheus/alerts.yml)', () => {
  const rules = alertRules();

  it('give every alert an expr, a for, a severity, a summary and a description, under a unique name', () => {
    assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length, 'unique alert names');
    for (const r of rules) {
      assert.match(r.alert, /^[A-Z][A-Za-z0-9]+$/, r.alert);
      assert.match(r.for, /^\d+[smhdwy]$/, `${r.alert} for`);
      assert.ok(['critical', 'warning', 'info'].includes(r.severity), `${r.alert} severity ${r.severity}`);
    }
  });

  it('cover consumer lag, dead-letter growth, webhook 5xx, dispatch failures, and the broker and registry down', () => {
    const names = new Set(rules.map((r) => r.alert));
    for (const alert of ['EventlineConsumerLagHigh', 'EventlineConsumerStalled', 'EventlineDeadLetters', 'EventlineWebhook5xx', 'EventlineDispatchFailureRate', 'EventlineBrokerDown', 'EventlineRegistryDown']) {
      assert.ok(names.has(alert), alert);
    }
  });

  it('name only metrics the code registers', async () => {
    const known = await registeredNames();
    for (const r of rules) {
      assert.ok(metricNames(r.expr).length > 0, `${r.alert} reads a metric`);
      assert.deepEqual(unknownNames(r.expr, known), [], `${r.alert}: ${r.expr}`);
    }
  });
});

describe('Prometheus and Grafana provisioning', () => {
  it('scrapes Eventline /metrics and loads the alert rules next to the configuration', () => {
    const config = objectAt(readJsonYaml(join(prometheusDir, 'prometheus.yml')), 'prometheus.yml');
    const jobs = arrayAt(config.scrape_configs, 'scrape_configs').map((j) => objectAt(j, 'scrape config'));
    const eventline = jobs.find((j) => j.job_name === 'eventline');
    assert.ok(eventline, 'a job named eventline (the alerts read up{job="eventline"})');
    assert.equal(eventline.metrics_path ?? '/metrics', '/metrics');
    const targets = arrayAt(eventline.static_configs, 'static_configs').flatMap((s) => arrayAt(objectAt(s, 'static config').targets, 'targets'));
    assert.ok(targets.length > 0, 'eventline has targets');
    const ruleFiles = arrayAt(config.rule_files, 'rule_files').map((f) => stringAt(f, 'rule file'));
    assert.ok(ruleFiles.includes('alerts.yml'));
    for (const f of ruleFiles) assert.ok(existsSync(join(prometheusDir, f)), `${f} exists beside prometheus.yml`);
  });

  it('gives Grafana the Prometheus data source with the uid the dashboards default to, and loads the dashboards from where compose mounts them', () => {
    const sources = readdirSync(join(grafanaDir, 'provisioning/datasources')).flatMap((f) =>
      arrayAt(objectAt(readJsonYaml(join(grafanaDir, 'provisioning/datasources', f)), f).datasources, `${f} datasources`).map((d) => objectAt(d, 'datasource')),
    );
    assert.ok(sources.some((s) => s.type === 'prometheus' && s.uid === 'prometheus' && s.url === 'http://prometheus:9090'), 'the compose service, uid prometheus');
    const providers = readdirSync(join(grafanaDir, 'provisioning/dashboards')).flatMap((f) =>
      arrayAt(objectAt(readJsonYaml(join(grafanaDir, 'provisioning/dashboards', f)), f).providers, `${f} providers`).map((p) => objectAt(p, 'provider')),
    );
    assert.ok(providers.length > 0);
    const compose = readFileSync(composeFile, 'utf8');
    for (const p of providers) {
      const path = stringAt(objectAt(p.options, 'provider options').path, 'provider path');
      assert.ok(compose.includes(`./infra/grafana/dashboards:${path}:ro`), `compose mounts the dashboards at ${path}`);
    }
    assert.ok(compose.includes('./infra/grafana/provisioning:/etc/grafana/provisioning:ro'), 'compose mounts the provisioning');
    assert.ok(compose.includes('./infra/prometheus:/etc/prometheus:ro') && compose.includes('--config.file=/etc/prometheus/prometheus.yml'), 'compose gives Prometheus its configuration');
    for (const [, local] of compose.matchAll(/^\s*-\s*"?(\.\/[^:"\s]+):/gm)) assert.ok(existsSync(join(projectRoot, local as string)), `${local} (mounted by compose) exists`);
  });

  it('passes promtool check rules, check config and the rules\' unit tests (alerts.test.yml) where promtool is installed', (t) => {
    const version = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (version.error) {
      // Not installed here (infra/ensure-promtool.sh installs Debian's prometheus); the checks above still ran.
      t.diagnostic('promtool is not on PATH: rules and configuration checked by this file only');
      return;
    }
    for (const args of [['check', 'rules', join(prometheusDir, 'alerts.yml')], ['check', 'config', join(prometheusDir, 'prometheus.yml')], ['test', 'rules', join(prometheusDir, 'alerts.test.yml')]]) {
      const run = spawnSync('promtool', args, { encoding: 'utf8' });
      assert.equal(run.status, 0, `promtool ${args.join(' ')}:\n${run.stdout}${run.stderr}`);
    }
  });
});
