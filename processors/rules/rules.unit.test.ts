import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_RULES_PATH } from '../../lib/config.ts';
import { isEventlineError } from '../../lib/errors.ts';
import { categoryFor } from '../../notify/index.ts';
import { loadRules, parseRulesText, validateRules, type RulesCatalogue } from '../../notify/index.ts';

const catalogue: RulesCatalogue = {
  eventTypes: new Map([
    ['eventline.domain.SecurityAlertRaised', ['user_id', 'alert', 'ip', 'device']],
    ['eventline.domain.UsageThresholdReached', ['user_id', 'metric', 'used', 'limit', 'threshold_percent']],
  ]),
  hasTemplate: (t) => ['security_alert', 'usage_threshold', 'receipt', 'contact_confirmation'].includes(t),
  categoryFor: (t, c) => categoryFor(t, c, 'api'),
};

const securityRule = { name: 'security-alert', event: 'SecurityAlertRaised', template: 'security_alert', category: 'security', priority: 'HIGH', recipient: 'user_id', data: { alert: 'alert' } };

describe('validating the domain-event rules file', () => {
  it('given a valid rule with a bare event name, then its full name, its category and defaults are filled in', () => {
    const result = validateRules({ rules: [securityRule, { name: 'usage', event: 'eventline.domain.UsageThresholdReached', template: 'usage_threshold', recipient: 'user_id' }] }, catalogue);
    assert.deepEqual(result, {
      ok: true,
      rules: [
        { name: 'security-alert', event: 'eventline.domain.SecurityAlertRaised', template: 'security_alert', category: 'security', priority: 'HIGH', channel: null, recipient: 'user_id', data: { alert: 'alert' } },
        { name: 'usage', event: 'eventline.domain.UsageThresholdReached', template: 'usage_threshold', category: 'billing', priority: 'NORMAL', channel: null, recipient: 'user_id', data: 'all' },
      ],
    });
  });

  it('given a type another service registered, then it needs "external": true, and its fields are not checked', () => {
    const rule = { name: 'shipped', event: 'com.acme.OrderShipped', template: 'receipt', recipient: 'buyer.user_id' };
    assert.deepEqual(validateRules({ rules: [rule] }, catalogue), {
      ok: false,
      problems: ['rules[0] (shipped).event: com.acme.OrderShipped is not in schemas/domain.events.v1; a type another service registered needs "external": true'],
    });
    assert.equal(validateRules({ rules: [{ ...rule, external: true }] }, catalogue).ok, true);
  });

  it('given several wrong rules, then every problem is listed, each naming its rule and field', () => {
    const result = validateRules(
      {
        rules: [
          { ...securityRule, template: 'security_alarm' },
          { ...securityRule, name: 'wrong-category', category: 'marketing' },
          { ...securityRule, name: 'loud', priority: 'URGENT', channel: 'fax' },
          { ...securityRule, name: 'typo', recipient: 'usr_id', data: { where: 'location' } },
          { ...securityRule, name: 'unknown-event', event: 'InvoiceTeleported' },
          { ...securityRule, name: 'internal-template', template: 'contact_confirmation', category: undefined },
          { ...securityRule, name: 'extra', colour: 'red' },
          securityRule,
          'not a rule',
        ],
        version: 2,
      },
      catalogue,
    );
    assert.equal(result.ok, false);
    assert.deepEqual(!result.ok && result.problems, [
      'version: not a field of a rules file (only "rules")',
      'rules[0] (security-alert).template: security_alarm is not a template (notify/templates/en-US)',
      'rules[1] (wrong-category).category: security_alert is sent as security, not marketing',
      'rules[2] (loud).priority: expected one of CRITICAL, HIGH, NORMAL, LOW',
      'rules[2] (loud).channel: expected one of email, sms, push, in_app, or none',
      'rules[3] (typo).recipient: eventline.domain.SecurityAlertRaised has no data field usr_id (its fields: user_id, alert, ip, device)',
      'rules[3] (typo).data.where: eventline.domain.SecurityAlertRaised has no data field location (its fields: user_id, alert, ip, device)',
      'rules[4] (unknown-event).event: eventline.domain.InvoiceTeleported is not in schemas/domain.events.v1; a type another service registered needs "external": true',
      'rules[5] (internal-template).template: contact_confirmation is sent by Eventline itself, not requested through the API',
      'rules[6] (extra): Unrecognized key: "colour": colour',
      'rules[7] (security-alert).name: security-alert is used by an earlier rule; names must be unique (they make notification ids)',
      'rules[8]: Invalid input: expected object, received string',
    ]);
  });

  it('given a file that is not a rules document, then it is refused as a whole', () => {
    assert.deepEqual(validateRules([securityRule], catalogue), { ok: false, problems: ['(file): expected an object {"rules": [...]}'] });
    assert.deepEqual(validateRules({ rules: [] }, catalogue), { ok: true, rules: [] });
  });

  it('given JSON or YAML text, then it is parsed by the file extension; malformed text and other extensions are refused', () => {
    assert.deepEqual(parseRulesText('{"rules": []}', 'rules.json'), { ok: true, doc: { rules: [] } });
    const yaml = 'rules:\n  - name: security-alert\n    event: SecurityAlertRaised\n    template: security_alert\n    priority: HIGH\n    recipient: user_id\n    data: all\n';
    assert.deepEqual(parseRulesText(yaml, 'rules.yml'), { ok: true, doc: { rules: [{ name: 'security-alert', event: 'SecurityAlertRaised', template: 'security_alert', priority: 'HIGH', recipient: 'user_id', data: 'all' }] } });
    assert.match((parseRulesText('{"rules": [', 'rules.json') as { problem: string }).problem, /^rules\.json: not valid JSON/);
    assert.match((parseRulesText('rules: [a, b', 'rules.yaml') as { problem: string }).problem, /^rules\.yaml: not valid YAML/);
    assert.deepEqual(parseRulesText('', 'rules.toml'), { ok: false, problem: 'rules.toml: a rules file is .json, .yaml or .yml' });
  });

  it('given the shipped rules/default.json, then it is valid against the shipped schemas, templates and categories', () => {
    const rules = loadRules(DEFAULT_RULES_PATH);
    assert.deepEqual(
      rules.map((r) => [r.event, r.template, r.category, r.priority]),
      [
        ['eventline.domain.SecurityAlertRaised', 'security_alert', 'security', 'HIGH'],
        ['eventline.domain.UsageThresholdReached', 'usage_threshold', 'billing', 'NORMAL'],
      ],
    );
  });

  it('given a bad or missing file, then loading refuses with config_invalid listing every problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventline-rules-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ rules: [{ ...securityRule, template: 'nope', priority: 'URGENT' }] }));
    assert.throws(
      () => loadRules(bad),
      (err: unknown) => {
        assert.ok(isEventlineError(err, 'config_invalid'));
        assert.deepEqual(err.detail, ['rules[0] (security-alert).priority: expected one of CRITICAL, HIGH, NORMAL, LOW', 'rules[0] (security-alert).template: nope is not a template (notify/templates/en-US)']);
        assert.equal(err.message, `invalid rules file ${bad} (EVENTLINE_RULES): ${(err.detail as string[]).join('; ')}`);
        return true;
      },
    );
    assert.throws(() => loadRules(join(dir, 'missing.yaml')), (err: unknown) => isEventlineError(err, 'config_invalid') && /cannot read it/.test(err.message));
  });
});
