/**
 * Links in template data. A field whose name ends in `_url` (at any depth: `hosted_invoice_url`,
 * `items[0].action_url`) is a link, and a link is an absolute `https:` URL — never `javascript:`,
 * `data:`, `http:` or a relative path, which would put a script or a downgrade into an email's
 * `href`. The API refuses other values (422 naming the field); rendering drops them. Pure.
 */

/** Template data fields that are links, by name. */
export const LINK_FIELD = /_url$/;

const MAX_LINK_LENGTH = 2048;

/** What is wrong with a link field that is not an https URL. */
export const LINK_PROBLEM = 'a link must be an absolute https:// URL';

/** The link as rendered — the parsed URL, so quotes and spaces come out percent-encoded — or null when it is not an https URL. */
export function safeLink(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > MAX_LINK_LENGTH || !/^https:\/\//i.test(value)) return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.hostname !== '' && url.username === '' && url.password === '' ? url.href : null;
  } catch {
    return null;
  }
}

export function isHttpsUrl(value: unknown): value is string {
  return safeLink(value) !== null;
}

function walk(value: unknown, path: string, visit: (key: string, value: unknown, path: string) => void): void {
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`, visit));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      visit(k, v, `${path}.${k}`);
      walk(v, `${path}.${k}`, visit);
    }
  }
}

/** Every link field of `data` that is not an https URL (null is allowed: no link), as "data.x: …". */
export function linkProblems(data: unknown, root = 'data'): string[] {
  const out: string[] = [];
  walk(data, root, (key, value, path) => {
    if (LINK_FIELD.test(key) && value !== null && !isHttpsUrl(value)) out.push(`${path}: ${LINK_PROBLEM}`);
  });
  return out;
}

/** A copy of `data` whose link fields are their `safeLink` (null, what a template's `{{#if}}` skips, when not https). */
export function withSafeLinks<T>(data: T): T {
  if (Array.isArray(data)) return data.map((v: unknown) => withSafeLinks(v)) as T;
  if (data === null || typeof data !== 'object') return data;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, LINK_FIELD.test(k) ? safeLink(v) : withSafeLinks(v)])) as T;
}
