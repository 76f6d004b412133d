/**
 * Turns schemas/<topic>/*.avsc + topic.json into typed topic and event definitions
 * (lib/generated/events.ts) and the topic catalogue (docs/topics.md).
 *
 *   tsx schemas/generate.ts           write the files
 *   tsx schemas/generate.ts --check   exit 1 when a generated file is stale (CI)
 *
 * Rules enforced here so every schema stays easy to evolve and to type:
 * - every top-level record starts with event_id (string), occurred_at and received_at (timestamp-millis);
 * - unions are ["null", T] only, with a null default;
 * - every named type's short name is unique across all topics (it is the TypeScript name);
 * - no string default that looks like JSON ("{}", "[]"): Apicurio's content-type detection then
 *   fails to see an Avro schema and refuses to register it (docs/adr/0002);
 * - a closed vocabulary (docs/adr/0010) is a string field of a top-level record carrying
 *   "eventline.symbols" (the values, each a valid Avro enum symbol) and "eventline.default" (one of
 *   them: what a reader makes of a value it does not know); it is typed as a string-literal union
 *   named in `vocabularyNames` below, and fields sharing a name share their symbols and default.
 *   Add symbols, never remove or rename one: records already written keep theirs.
 */
import { readFileSync, readdirSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const schemasDir = join(root, 'schemas');
const outputs = {
  events: join(root, 'lib', 'generated', 'events.ts'),
  catalogue: join(root, 'docs', 'topics.md'),
};

interface TopicSpec {
  name: string;
  doc: string;
  key: string;
  partitions: number;
  pattern?: boolean;
  config: Record<string, string>;
}

interface AvroField {
  name: string;
  type: AvroSchema;
  doc?: string;
  default?: unknown;
  'eventline.symbols'?: unknown;
  'eventline.default'?: unknown;
  'eventline.personal'?: unknown;
}

const PERSONAL_KINDS = ['text', 'email', 'json'];

/**
 * Personal-data marks (ADR 0018): every `eventline.personal` field, at any depth, as a dotted path
 * (`*` for an array's items) with its kind. Checked: a known kind, on a string or nullable string.
 */
function personalFields(schema: AvroSchema, where: string, named: Map<string, AvroSchema>, path: string[] = [], out: { path: string; kind: string }[] = []): { path: string; kind: string }[] {
  if (typeof schema === 'string') {
    const ref = named.get(schema);
    if (ref !== undefined) personalFields(ref, where, new Map([...named].filter(([k]) => k !== schema)), path, out);
    return out;
  }
  if (Array.isArray(schema)) {
    for (const branch of schema) personalFields(branch, where, named, path, out);
  } else if (schema.type === 'record') {
    const rec = schema as { name: string; fields: AvroField[] };
    named.set(rec.name, schema);
    for (const f of rec.fields) {
      const mark = f['eventline.personal'];
      if (mark === undefined) {
        personalFields(f.type, where, named, [...path, f.name], out);
        continue;
      }
      const isString = f.type === 'string' || (Array.isArray(f.type) && f.type.length === 2 && f.type[0] === 'null' && f.type[1] === 'string');
      if (typeof mark !== 'string' || !PERSONAL_KINDS.includes(mark)) fail(`${where}.${f.name}: "eventline.personal" must be one of ${PERSONAL_KINDS.join(', ')}`);
      if (!isString) fail(`${where}.${f.name}: "eventline.personal" marks a string or ["null", "string"] field (a sealed value is a string)`);
      out.push({ path: [...path, f.name].join('.'), kind: mark });
    }
  } else if (schema.type === 'array') personalFields((schema as { items: AvroSchema }).items, where, named, [...path, '*'], out);
  return out;
}

/** A record with personal fields names the subject they are sealed for: `<kind>:<path to a string field>`, first set wins. */
function checkSubject(schema: AvroSchema & object, where: string): string[] {
  const subject = (schema as { 'eventline.subject'?: unknown })['eventline.subject'];
  if (!Array.isArray(subject) || subject.length === 0 || !subject.every((x): x is string => typeof x === 'string' && /^[a-z]+:[a-z_.]+$/.test(x))) {
    fail(`${where}: a record with personal fields needs "eventline.subject": ["<kind>:<field path>", …] (e.g. "user:user_id")`);
  }
  for (const candidate of subject) {
    let fields = (schema as { fields: AvroField[] }).fields;
    let type: AvroSchema | undefined;
    for (const part of candidate.slice(candidate.indexOf(':') + 1).split('.')) {
      type = fields.find((f) => f.name === part)?.type;
      if (typeof type === 'object' && !Array.isArray(type) && type.type === 'record') fields = (type as { fields: AvroField[] }).fields;
    }
    const ok = type === 'string' || (Array.isArray(type) && type.includes('string'));
    if (!ok) fail(`${where}: subject ${candidate} does not name a string field`);
  }
  return subject;
}

/**
 * The TypeScript name of each closed vocabulary, by `<Record>.<field>`. A name is the type of its
 * fields; two fields share one only when their symbols and defaults are the same.
 */
const vocabularyNames: Readonly<Record<string, string>> = {
  'DunningStepDecided.step': 'DunningStep',
  'ProviderCircuitChanged.from_state': 'CircuitStateName',
  'ProviderCircuitChanged.to_state': 'CircuitStateName',
  'DunningStepDecided.action': 'DunningAction',
  'DunningStepDecided.case_status': 'DunningCaseStatus',
  'DunningStepDecided.decline_class': 'DeclineClass',
  'DunningStepDue.step': 'DunningDueStep',
  'DunningReminderOutcome.kind': 'ReminderOutcomeKind',
  'EntitlementChanged.from_state': 'EntitlementState',
  'EntitlementChanged.to_state': 'EntitlementState',
  'DeliveryEventReceived.channel': 'DeliveryChannel',
  'DeliveryEventReceived.kind': 'DeliveryKind',
  'NotificationRequested.priority': 'NotificationPriority',
  'NotificationDispatched.priority': 'NotificationPriority',
  'NotificationDispatched.status': 'DispatchStatus',
  'PreferencesChanged.change': 'PreferenceChangeKind',
  'PreferencesChanged.source': 'PreferenceChangeSource',
  'CardFlagged.reason': 'CardFlagReason',
  'FraudScored.action': 'FraudScoreAction',
  'RiskListChanged.list': 'RiskListName',
  'RiskListChanged.kind': 'RiskListKind',
  'RiskListChanged.change': 'RiskListChange',
  'PaymentLabeled.label': 'PaymentLabel',
  'PaymentLabeled.source': 'PaymentLabelSource',
};

interface Vocabulary {
  name: string;
  symbols: string[];
  default: string;
  /** `<Record>.<field>` of every field typed by it. */
  fields: string[];
}
type AvroSchema =
  | string
  | AvroSchema[]
  | { type: 'record'; name: string; namespace?: string; doc?: string; fields: AvroField[] }
  | { type: 'enum'; name: string; namespace?: string; symbols: string[] }
  | { type: 'array'; items: AvroSchema }
  | { type: 'map'; values: AvroSchema }
  | { type: string; logicalType?: string };

interface LoadedRecord {
  name: string;
  fullName: string;
  schema: AvroSchema;
  doc: string;
  /** Closed-vocabulary fields: field name → vocabulary. */
  vocabularies: Map<string, Vocabulary>;
  /** Personal-data fields (dotted paths) and the subject they are sealed for. */
  personal: { path: string; kind: string }[];
  subject: string[];
}

interface LoadedTopic {
  folder: string;
  spec: TopicSpec;
  records: LoadedRecord[];
}

function fail(message: string): never {
  console.error(`schemas: ${message}`);
  process.exit(1);
}

const vocabularyByName = new Map<string, Vocabulary>();
const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function hasVocabulary(f: AvroField): boolean {
  return 'eventline.symbols' in f || 'eventline.default' in f;
}

/** The vocabulary of a marked field, checked and shared by name with the other fields of that name. */
function vocabularyOf(record: string, f: AvroField, where: string): Vocabulary {
  const symbols = f['eventline.symbols'];
  const fallback = f['eventline.default'];
  if (f.type !== 'string') fail(`${where}.${f.name}: "eventline.symbols" marks a string field, not ${JSON.stringify(f.type)}`);
  if (!Array.isArray(symbols) || symbols.length === 0 || !symbols.every((x): x is string => typeof x === 'string' && AVRO_NAME.test(x))) {
    fail(`${where}.${f.name}: "eventline.symbols" must be a non-empty array of Avro enum symbols ([A-Za-z_][A-Za-z0-9_]*)`);
  }
  const duplicate = symbols.find((x, i) => symbols.indexOf(x) !== i);
  if (duplicate !== undefined) fail(`${where}.${f.name}: symbol ${duplicate} is listed twice`);
  if (typeof fallback !== 'string' || !symbols.includes(fallback)) fail(`${where}.${f.name}: "eventline.default" must be one of its symbols`);
  if (f.default !== undefined && !symbols.includes(f.default as string)) fail(`${where}.${f.name}: the Avro default ${JSON.stringify(f.default)} is not one of its symbols`);
  const field = `${record}.${f.name}`;
  const name = vocabularyNames[field];
  if (!name) fail(`${where}.${f.name}: name its vocabulary type in schemas/generate.ts (vocabularyNames['${field}'])`);
  const known = vocabularyByName.get(name);
  if (known) {
    if (known.default !== fallback || known.symbols.join(',') !== symbols.join(',')) {
      fail(`${where}.${f.name}: ${name} is ${known.symbols.join(', ')} (default ${known.default}) for ${known.fields.join(', ')}; give this field the same symbols and default, or its own name`);
    }
    known.fields.push(field);
    return known;
  }
  const created: Vocabulary = { name, symbols, default: fallback, fields: [field] };
  vocabularyByName.set(name, created);
  return created;
}

/** Marks on fields of nested records: not supported (serde checks top-level fields only). */
function refuseNestedVocabularies(schema: AvroSchema, where: string): void {
  if (typeof schema === 'string') return;
  if (Array.isArray(schema)) {
    for (const branch of schema) refuseNestedVocabularies(branch, where);
  } else if (schema.type === 'record') {
    for (const f of (schema as { fields: AvroField[] }).fields) {
      if (hasVocabulary(f)) fail(`${where}.${f.name}: a closed vocabulary must be a field of a top-level record`);
      refuseNestedVocabularies(f.type, `${where}.${f.name}`);
    }
  } else if (schema.type === 'array') refuseNestedVocabularies((schema as { items: AvroSchema }).items, where);
  else if (schema.type === 'map') refuseNestedVocabularies((schema as { values: AvroSchema }).values, where);
}

function loadTopics(): LoadedTopic[] {
  const folders = readdirSync(schemasDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const topics = folders.map((folder) => {
    const specFile = join(schemasDir, folder, 'topic.json');
    if (!existsSync(specFile)) fail(`${folder}/topic.json is missing`);
    const spec = JSON.parse(readFileSync(specFile, 'utf8')) as TopicSpec;
    if (!spec.pattern && spec.name !== folder) fail(`${folder}/topic.json names topic ${spec.name}; the folder must be named after the topic`);
    const files = readdirSync(join(schemasDir, folder)).filter((f) => f.endsWith('.avsc')).sort();
    if (files.length === 0) fail(`${folder} has no .avsc file`);
    const records = files.map((file) => {
      const schema = JSON.parse(readFileSync(join(schemasDir, folder, file), 'utf8')) as AvroSchema;
      if (typeof schema !== 'object' || Array.isArray(schema) || schema.type !== 'record' || !('fields' in schema)) {
        fail(`${folder}/${file}: the top level must be a record`);
      }
      if (`${schema.name}.avsc` !== file) fail(`${folder}/${file}: the file must be named after its record (${schema.name}.avsc)`);
      try {
        avro.Type.forSchema(schema as avro.Schema, { wrapUnions: false });
      } catch (err) {
        fail(`${folder}/${file}: not a valid Avro schema: ${(err as Error).message}`);
      }
      const [f0, f1, f2] = schema.fields;
      const isTs = (f: AvroField | undefined) =>
        typeof f?.type === 'object' && !Array.isArray(f.type) && f.type.type === 'long' && 'logicalType' in f.type && f.type.logicalType === 'timestamp-millis';
      if (f0?.name !== 'event_id' || f0.type !== 'string' || f1?.name !== 'occurred_at' || !isTs(f1) || f2?.name !== 'received_at' || !isTs(f2)) {
        fail(`${folder}/${file}: a record must start with event_id (string), occurred_at and received_at (timestamp-millis)`);
      }
      const fullName = schema.namespace ? `${schema.namespace}.${schema.name}` : schema.name;
      const marked = new Map<string, Vocabulary>();
      for (const f of schema.fields) {
        if (hasVocabulary(f)) marked.set(f.name, vocabularyOf(schema.name, f, `${folder}/${file}`));
        refuseNestedVocabularies(f.type, `${folder}/${file}.${f.name}`);
      }
      const personal = personalFields(schema, `${folder}/${file}`, new Map());
      const subject = personal.length > 0 ? checkSubject(schema, `${folder}/${file}`) : [];
      return { name: schema.name, fullName, schema, doc: schema.doc ?? '', vocabularies: marked, personal, subject };
    });
    return { folder, spec, records };
  });
  const unused = Object.keys(vocabularyNames).filter((field) => ![...vocabularyByName.values()].some((v) => v.fields.includes(field)));
  if (unused.length > 0) fail(`vocabularyNames lists ${unused.join(', ')}, but no such field carries "eventline.symbols"`);
  return topics;
}

/** Emits TypeScript interfaces for every named type reachable from the top-level records. */
class TypeEmitter {
  private readonly declared = new Map<string, string>();
  private readonly owner = new Map<string, string>();
  readonly blocks: string[] = [];

  /** A top-level record; its closed-vocabulary fields are typed by their vocabulary's name. */
  emitRecord(schema: AvroSchema, where: string, vocabularies: ReadonlyMap<string, Vocabulary>): string {
    return this.tsType(schema, undefined, where, vocabularies);
  }

  private named(name: string, namespace: string | undefined): { short: string; full: string } {
    const full = name.includes('.') ? name : namespace ? `${namespace}.${name}` : name;
    return { short: full.slice(full.lastIndexOf('.') + 1), full };
  }

  private tsType(schema: AvroSchema, namespace: string | undefined, where: string, vocabularies?: ReadonlyMap<string, Vocabulary>): string {
    if (typeof schema === 'string') {
      switch (schema) {
        case 'null':
          return 'null';
        case 'boolean':
          return 'boolean';
        case 'int':
        case 'long':
        case 'float':
        case 'double':
          return 'number';
        case 'string':
          return 'string';
        case 'bytes':
          return 'Buffer';
        default: {
          const { short, full } = this.named(schema, namespace);
          if (!this.declared.has(full)) fail(`${where}: unknown type reference ${schema}`);
          return short;
        }
      }
    }
    if (Array.isArray(schema)) {
      if (schema.length !== 2 || schema[0] !== 'null') fail(`${where}: unions must be ["null", T]`);
      return `${this.tsType(schema[1] as AvroSchema, namespace, where)} | null`;
    }
    switch (schema.type) {
      case 'record': {
        const rec = schema as Extract<AvroSchema, { type: 'record' }>;
        const { short, full } = this.named(rec.name, rec.namespace ?? namespace);
        const ns = full.includes('.') ? full.slice(0, full.lastIndexOf('.')) : undefined;
        const previous = this.owner.get(short);
        if (previous !== undefined && previous !== full) fail(`${where}: type name ${short} is used by ${previous} and ${full}`);
        if (this.declared.has(full)) fail(`${where}: ${full} is declared twice`);
        this.owner.set(short, full);
        this.declared.set(full, short);
        const lines = rec.fields.map((f) => {
          if (Array.isArray(f.type) && f.default !== null) fail(`${where}.${f.name}: a ["null", T] field needs "default": null`);
          if (typeof f.default === 'string' && /^\s*[[{]/.test(f.default)) {
            fail(`${where}.${f.name}: a string default that looks like JSON stops the registry from recognising the schema as Avro`);
          }
          const doc = f.doc ? `  /** ${f.doc.replace(/\*\//g, '* /')} */\n` : '';
          const type = vocabularies?.get(f.name)?.name ?? this.tsType(f.type, ns, `${where}.${f.name}`);
          return `${doc}  readonly ${f.name}: ${type};`;
        });
        const doc = rec.doc ? `/** ${rec.doc.replace(/\*\//g, '* /')} */\n` : '';
        this.blocks.push(`${doc}export interface ${short} {\n${lines.join('\n')}\n}`);
        return short;
      }
      case 'enum': {
        const en = schema as Extract<AvroSchema, { type: 'enum' }>;
        const { short, full } = this.named(en.name, en.namespace ?? namespace);
        this.declared.set(full, short);
        this.blocks.push(`export type ${short} = ${en.symbols.map((s) => JSON.stringify(s)).join(' | ')};`);
        return short;
      }
      case 'array':
        return `readonly (${this.tsType((schema as { items: AvroSchema }).items, namespace, where)})[]`;
      case 'map':
        return `Readonly<Record<string, ${this.tsType((schema as { values: AvroSchema }).values, namespace, where)}>>`;
      default:
        return this.tsType(schema.type, namespace, where);
    }
  }
}

function generateEvents(topics: LoadedTopic[]): string {
  const emitter = new TypeEmitter();
  for (const t of topics) for (const r of t.records) emitter.emitRecord(r.schema, `${t.folder}/${r.name}`, r.vocabularies);

  const fixed = topics.filter((t) => !t.spec.pattern);
  const dlq = topics.find((t) => t.spec.pattern);
  if (!dlq || dlq.folder !== 'dlq') fail('the dlq folder (pattern topic dlq.<consumer-group>.v1) is missing');
  const out: string[] = [];
  out.push('// DO NOT EDIT. Generated by schemas/generate.ts from schemas/**/*.avsc and topic.json.');
  out.push('// Change a schema, then run `npm run gen`; CI fails when this file is stale.');
  out.push('/* eslint-disable */');
  out.push('');
  for (const v of vocabularyByName.values()) {
    out.push(`/** Closed vocabulary of ${v.fields.join(', ')}; a value this version does not know reads as ${JSON.stringify(v.default)}. */`);
    out.push(`export type ${v.name} = ${v.symbols.map((x) => JSON.stringify(x)).join(' | ')};`);
    out.push('');
  }
  out.push(emitter.blocks.join('\n\n'));
  out.push('');
  out.push('/** Record types carried by each topic (logical names, before EVENTLINE_NAMESPACE). */');
  out.push('export interface TopicRecords {');
  for (const t of fixed) out.push(`  ${JSON.stringify(t.spec.name)}: { ${t.records.map((r) => `${r.name}: ${r.name}`).join('; ')} };`);
  out.push('}');
  out.push('');
  out.push(`/** Dead-letter topics: one per consumer group, all carrying ${dlq.records.map((r) => r.name).join(', ')}. */`);
  out.push('export type DlqTopicName = `dlq.${string}.v1`;');
  out.push(`export interface DlqRecords { ${dlq.records.map((r) => `${r.name}: ${r.name}`).join('; ')} }`);
  out.push('');
  out.push('export interface TopicSpec {');
  out.push('  readonly name: string;');
  out.push('  readonly doc: string;');
  out.push('  readonly key: string;');
  out.push('  readonly partitions: number;');
  out.push('  readonly config: Readonly<Record<string, string>>;');
  out.push('  readonly records: readonly string[];');
  out.push('}');
  out.push('');
  out.push('export const topicSpecs = {');
  for (const t of fixed) {
    out.push(`  ${JSON.stringify(t.spec.name)}: ${JSON.stringify({ ...t.spec, records: t.records.map((r) => r.name) })},`);
  }
  out.push('} as const satisfies Record<keyof TopicRecords, TopicSpec>;');
  out.push('');
  out.push(`export const dlqSpec = ${JSON.stringify({ ...dlq.spec, records: dlq.records.map((r) => r.name) })} as const;`);
  out.push('');
  out.push('/** Every record schema by short name: full name and the schema as written in schemas/. */');
  out.push('export const recordSchemas = {');
  for (const t of topics) {
    for (const r of t.records) out.push(`  ${r.name}: { fullName: ${JSON.stringify(r.fullName)}, schema: ${JSON.stringify(r.schema)} },`);
  }
  out.push('} as const;');
  out.push('');
  out.push('export type RecordName = keyof typeof recordSchemas;');
  out.push('');
  out.push('export interface Vocabulary {');
  out.push('  readonly symbols: readonly string[];');
  out.push('  /** What a reader makes of a value not in `symbols` (written by a newer producer). */');
  out.push('  readonly default: string;');
  out.push('}');
  out.push('');
  out.push('/** Every closed vocabulary ("eventline.symbols" and "eventline.default" in schemas/), by type name. */');
  out.push('export const vocabularies = {');
  for (const v of vocabularyByName.values()) out.push(`  ${v.name}: ${JSON.stringify({ symbols: v.symbols, default: v.default })},`);
  out.push('} as const satisfies Readonly<Record<string, Vocabulary>>;');
  out.push('');
  out.push('/** The closed-vocabulary fields of every record: record → field → vocabulary. */');
  out.push('export const recordVocabularies = {');
  for (const t of topics) {
    for (const r of t.records) {
      const fields = [...r.vocabularies].map(([field, v]) => `${field}: vocabularies.${v.name}`);
      out.push(`  ${r.name}: ${fields.length === 0 ? '{}' : `{ ${fields.join(', ')} }`},`);
    }
  }
  out.push('} as const satisfies Readonly<Record<RecordName, Readonly<Record<string, Vocabulary>>>>;');
  out.push('');
  return out.join('\n');
}

function generateCatalogue(topics: LoadedTopic[]): string {
  const lines = [
    '<!-- DO NOT EDIT. Generated by schemas/generate.ts from schemas/; run `npm run gen`. -->',
    '# Topic catalogue',
    '',
    'Every topic Eventline writes, its key, its partitions and the Avro records it carries. Values use the',
    'Confluent wire format; subjects follow TopicRecordNameStrategy (`<topic>-<record full name>`). With',
    '`EVENTLINE_NAMESPACE=ns` every topic name below is prefixed with `ns.`.',
    '',
    'A string field listing symbols is a closed vocabulary (`eventline.symbols` and `eventline.default` in',
    'its schema, docs/adr/0010): Eventline writes only those symbols, and reads a value it does not know',
    '(from a newer producer) as the default shown, counting it in `eventline_unknown_symbols_total`.',
    '',
    '| topic | key | partitions | records |',
    '|---|---|---|---|',
    ...topics.map((t) => `| \`${t.spec.name}\` | ${t.spec.key} | ${t.spec.pattern ? 'on first use: ' : ''}${t.spec.partitions} | ${t.records.map((r) => `\`${r.fullName}\``).join(', ')} |`),
    '',
  ];
  for (const t of topics) {
    lines.push(`## \`${t.spec.name}\``, '', t.spec.doc, '');
    for (const r of t.records) {
      lines.push(`### \`${r.fullName}\``, '', r.doc, '');
      if (r.personal.length > 0) {
        lines.push(
          `Personal data, sealed at append for the subject ${r.subject.map((x) => `\`${x}\``).join(' else ')} (docs/adr/0018): ${r.personal.map((p) => `\`${p.path}\` (${p.kind})`).join(', ')}.`,
          '',
        );
      }
      lines.push('| field | type | doc |', '|---|---|---|');
      const rec = r.schema as { fields: AvroField[] };
      for (const f of rec.fields) {
        const v = r.vocabularies.get(f.name);
        const type = v ? `string: ${v.symbols.map((x) => `\`${x}\``).join(', ')}; else \`${v.default}\`` : describe(f.type);
        lines.push(`| \`${f.name}\` | ${type} | ${(f.doc ?? '').replace(/\|/g, '\\|')} |`);
      }
      lines.push('');
    }
  }
  return lines.join('\n');
}

function describe(schema: AvroSchema): string {
  if (typeof schema === 'string') return schema;
  if (Array.isArray(schema)) return schema.map(describe).join(' \\| ');
  if (schema.type === 'record') return `record ${(schema as { name: string }).name}`;
  if (schema.type === 'array') return `array of ${describe((schema as { items: AvroSchema }).items)}`;
  if (schema.type === 'map') return `map of ${describe((schema as { values: AvroSchema }).values)}`;
  if ('logicalType' in schema && schema.logicalType) return `${schema.type} (${schema.logicalType})`;
  return schema.type;
}

const topics = loadTopics();
const files = [
  { path: outputs.events, content: generateEvents(topics) },
  { path: outputs.catalogue, content: generateCatalogue(topics) },
];
if (process.argv.includes('--check')) {
  const stale = files.filter((f) => !existsSync(f.path) || readFileSync(f.path, 'utf8') !== f.content);
  if (stale.length > 0) fail(`generated files are stale: ${stale.map((f) => f.path.slice(root.length + 1)).join(', ')}; run \`npm run gen\``);
  console.log(`schemas: ${files.length} generated files are up to date`);
} else {
  for (const f of files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.content);
  }
  console.log(`schemas: ${topics.reduce((n, t) => n + t.records.length, 0)} records in ${topics.length} topics -> ${files.map((f) => f.path.slice(root.length + 1)).join(', ')}`);
}
