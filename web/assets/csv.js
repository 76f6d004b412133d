// CSV export of the dashboard's tables, made in the browser from the rows the page already holds:
// nothing is fetched again, so a file says exactly what the table showed (personal fields masked as
// displayed). RFC 4180: fields separated by commas, records by CRLF, a field holding a comma, a
// double quote, CR or LF enclosed in double quotes with its quotes doubled. Against spreadsheet
// formula injection (OWASP "CSV injection"), a cell starting with = + - @, a tab or CR gets a
// leading apostrophe, so that Excel or Sheets shows it as text instead of evaluating it; a plain
// number stays a number, negative ones included (contraction and churn are negative cents).
// Sets window.EventlineCsv; web/csv.unit.test.ts runs this very file in a VM context.
'use strict';
(() => {
  const PLAIN_NUMBER = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;
  const FORMULA_START = /^[=+\-@\t\r]/;

  /** One field: null and undefined are empty, a list is joined with "; ", anything else is its text. */
  function field(value) {
    if (value === null || value === undefined) return '';
    let text = Array.isArray(value) ? value.map((v) => (v === null || v === undefined ? '' : String(v))).join('; ') : typeof value === 'number' && !Number.isFinite(value) ? '' : String(value);
    if (FORMULA_START.test(text) && !PLAIN_NUMBER.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  /** The CSV of `rows`: a header row of each column's `header`, then one record per row of `value(row)`. */
  function toCsv(columns, rows) {
    const records = [columns.map((c) => field(c.header)), ...rows.map((r) => columns.map((c) => field(c.value(r))))];
    return records.map((r) => r.join(',')).join('\r\n') + '\r\n';
  }

  /** `eventline-<part>-<part>….csv`, each part reduced to lowercase letters, digits, `_` and `-` (no path, no odd bytes). */
  function fileName(parts) {
    const clean = parts.filter((p) => p !== null && p !== undefined && p !== '').map((p) => String(p).toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, ''));
    return ['eventline', ...clean.filter(Boolean)].join('-') + '.csv';
  }

  /** Saves `text` as a file called `name`: a Blob URL behind a download link, clicked. */
  function download(name, text) {
    const url = window.URL.createObjectURL(new window.Blob([text], { type: 'text/csv;charset=utf-8' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    // Revoked after the click has been handled: revoking at once can cancel the download.
    window.setTimeout(() => window.URL.revokeObjectURL(url), 10_000);
  }

  window.EventlineCsv = Object.freeze({ field, toCsv, fileName, download });
})();
