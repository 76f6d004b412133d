/**
 * The dashboard's CSV export (web/assets/csv.js), the very file the browser runs, loaded into a VM
 * context with the one global it sets.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';

interface Column {
  readonly header: string;
  readonly value: (row: Record<string, unknown>) => unknown;
}
interface Csv {
  field(value: unknown): string;
  toCsv(columns: readonly Column[], rows: readonly Record<string, unknown>[]): string;
  fileName(parts: readonly unknown[]): string;
}

function loadCsv(): Csv {
  const window: { EventlineCsv?: Csv } = {};
  runInNewContext(readFileSync(new URL('./assets/csv.js', import.meta.url), 'utf8'), { window });
  assert.ok(window.EventlineCsv, 'csv.js sets window.EventlineCsv');
  return window.EventlineCsv;
}

const csv = loadCsv();

describe('the CSV export of the dashboard', () => {
  it('given text with commas, quotes or line breaks, then it is quoted with its quotes doubled (RFC 4180)', () => {
    assert.equal(csv.field('plain'), 'plain');
    assert.equal(csv.field('a,b'), '"a,b"');
    assert.equal(csv.field('say "hi"'), '"say ""hi"""');
    assert.equal(csv.field('two\nlines'), '"two\nlines"');
    assert.equal(csv.field('cr\rhere'), '"cr\rhere"');
    assert.equal(csv.field(''), '');
    assert.equal(csv.field(null), '');
    assert.equal(csv.field(undefined), '');
    assert.equal(csv.field(['email', 'sms']), 'email; sms');
  });

  it('given a cell a spreadsheet would run as a formula, then a leading apostrophe; a plain number stays a number', () => {
    assert.equal(csv.field('=1+1'), "'=1+1");
    assert.equal(csv.field('+1'), "'+1");
    assert.equal(csv.field('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csv.field('-2+3'), "'-2+3");
    assert.equal(csv.field('\tx'), "'\tx");
    assert.equal(csv.field('\r=x'), '"\'\r=x"');
    assert.equal(csv.field('=HYPERLINK("http://evil.example","x")'), '"\'=HYPERLINK(""http://evil.example"",""x"")"');
    assert.equal(csv.field(['=cmd', 'b']), "'=cmd; b");
    assert.equal(csv.field(-4900), '-4900');
    assert.equal(csv.field('-4900'), '-4900');
    assert.equal(csv.field(-0.1234), '-0.1234');
    assert.equal(csv.field(4900), '4900');
    assert.equal(csv.field(Number.NaN), '');
    assert.equal(csv.field('a=b'), 'a=b', 'only the first character counts');
  });

  it('given columns and rows, then a header row and one CRLF-ended record per row', () => {
    const text = csv.toCsv(
      [
        { header: 'Month', value: (r) => r.month },
        { header: 'Churn (USD cents)', value: (r) => r.churn_cents },
        { header: 'Note, quoted', value: (r) => r.note },
      ],
      [
        { month: '2026-01', churn_cents: -4900, note: '=evil()' },
        { month: '2026-02', churn_cents: 0, note: null },
      ],
    );
    assert.equal(text, 'Month,Churn (USD cents),"Note, quoted"\r\n2026-01,-4900,\'=evil()\r\n2026-02,0,\r\n');
    assert.equal(csv.toCsv([{ header: 'Only', value: () => 1 }], []), 'Only\r\n');
  });

  it('given the parts of a file name, then eventline-….csv with nothing but lowercase letters, digits, _ and -', () => {
    assert.equal(csv.fileName(['mrr-monthly', 'usd', '2026-01_2026-12']), 'eventline-mrr-monthly-usd-2026-01_2026-12.csv');
    assert.equal(csv.fileName(['movement', 'cus_ABC.1', '3', 'eur']), 'eventline-movement-cus_abc-1-3-eur.csv');
    assert.equal(csv.fileName(['../../etc/passwd', '', null]), 'eventline-etc-passwd.csv');
  });
});
