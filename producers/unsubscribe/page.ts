/** Minimal, dependency-free HTML pages for people who click an unsubscribe (or contact confirmation) link. */

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** A page with the shared look; `body` is HTML, `title` is text. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escape(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:6px;background:#1f6feb;color:#fff;cursor:pointer}
.muted{color:#616e7c}</style></head><body>${body}</body></html>`;
}

function what(category: string | null): string {
  return category === null ? 'all non-essential messages' : `“${escape(category)}” messages`;
}

/** `manageUrl`: the preference centre for this user (every category and channel), when one can be signed. */
export function confirmPage(category: string | null, manageUrl: string | null = null): string {
  return page(
    'Unsubscribe',
    `<h1>Unsubscribe?</h1><p>You will stop receiving ${what(category)}.</p>
<form method="post"><input type="hidden" name="confirm" value="yes"><button type="submit">Unsubscribe</button></form>
${manageUrl ? `<p><a href="${escape(manageUrl)}">Choose which messages you get, and how</a></p>\n` : ''}<p class="muted">Security and payment notices about your account are always sent.</p>`,
  );
}

export function donePage(category: string | null, already: boolean): string {
  return page('Unsubscribed', `<h1>${already ? 'Already unsubscribed' : 'You are unsubscribed'}</h1><p>You will no longer receive ${what(category)}.</p>`);
}

export function errorPage(title: string, detail: string): string {
  return page(title, `<h1>${escape(title)}</h1><p>${escape(detail)}</p>`);
}
