/** Minimal, dependency-free HTML pages for people who follow a contact confirmation link. */
import { errorPage, page } from '../unsubscribe/page.ts';

export { errorPage };

const what = (channel: 'email' | 'sms'): string => (channel === 'email' ? 'email address' : 'phone number');

export function confirmPage(channel: 'email' | 'sms'): string {
  return page(
    `Confirm your ${what(channel)}`,
    `<h1>Confirm your ${what(channel)}?</h1><p>Notices about your account, including security and payment notices, will go to this ${what(channel)}.</p>
<form method="post"><input type="hidden" name="confirm" value="yes"><button type="submit">Confirm</button></form>
<p class="muted">If you did not ask for this, close this page: nothing changes.</p>`,
  );
}

export function donePage(channel: 'email' | 'sms', already: boolean): string {
  return page('Confirmed', `<h1>${already ? 'Already confirmed' : 'Thank you'}</h1><p>Your ${what(channel)} is confirmed.</p>`);
}
