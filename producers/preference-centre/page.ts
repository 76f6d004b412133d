/**
 * The preference centre's one page: a table of every category × channel (essential rows checked,
 * disabled, and said to be always on), the channel switches, SMS consent, the preferred channel,
 * the global opt-out and a reason, saved by one form POST to the page's own URL. Plain HTML: it
 * works without JavaScript, labels every control, keeps the focus outline and AA contrast.
 */
import { channels, type Channel } from '../../projections/preferences/document.ts';
import { page } from '../unsubscribe/page.ts';
import type { CentreView } from './form.ts';

const channelNames: Readonly<Record<Channel, string>> = { email: 'Email', sms: 'Text (SMS)', push: 'Browser push', in_app: 'In-app' };
const categoryNames: Readonly<Record<string, string>> = {
  security: 'Security alerts',
  payment: 'Payments',
  account: 'Your account',
  billing: 'Billing and receipts',
  product: 'Product news and digests',
  marketing: 'Offers and marketing',
};

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const nameOf = (category: string) => categoryNames[category] ?? category.replace(/_/g, ' ');
const checked = (on: boolean) => (on ? ' checked' : '');

export function centrePage(view: CentreView, options: { saved?: boolean; changed?: boolean; phone: string | null }): string {
  const head = channels.map((c) => `<th scope="col">${channelNames[c]}</th>`).join('');
  const switches = channels
    .map((c) => `<td><input type="checkbox" id="channel-${c}" name="channel.${c}"${checked(view.channels[c])} aria-label="${channelNames[c]}: any messages"></td>`)
    .join('');
  const rows = view.categories
    .map(({ category, essential, channels: flags }) => {
      const label = `${escape(nameOf(category))}${essential ? ' <span class="lock">(always sent)</span>' : ''}`;
      const cells = channels
        .map((c) => {
          const id = `cat-${category}-${c}`;
          return essential
            ? `<td><input type="checkbox" id="${id}" checked disabled aria-label="${escape(nameOf(category))} by ${channelNames[c]}: always on"></td>`
            : `<td><input type="checkbox" id="${id}" name="cat.${category}.${c}"${checked(flags[c])} aria-label="${escape(nameOf(category))} by ${channelNames[c]}"></td>`;
        })
        .join('');
      return `<tr data-category="${escape(category)}"${essential ? ' class="essential"' : ''}><th scope="row">${label}${essential ? '' : `<input type="hidden" name="shown" value="${escape(category)}">`}</th>${cells}</tr>`;
    })
    .join('\n');
  const preferred = ['', ...channels]
    .map((c) => `<option value="${c}"${(view.preferredChannel ?? '') === c ? ' selected' : ''}>${c === '' ? 'Email (default)' : channelNames[c as Channel]}</option>`)
    .join('');
  const status = options.saved ? `<p role="status" class="saved">${options.changed ? 'Your preferences are saved.' : 'Nothing changed: your preferences were already so.'}</p>` : '';
  const style = `<style>table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{padding:.4rem;text-align:center;border-bottom:1px solid #cbd2d9}
th[scope=row]{text-align:left;font-weight:normal}.lock{color:#52606d;font-size:.9em}input:focus-visible,select:focus-visible,button:focus-visible{outline:3px solid #1f6feb;outline-offset:2px}
fieldset{border:1px solid #cbd2d9;border-radius:6px;margin:1rem 0}.saved{background:#e3f9e5;color:#05400a;padding:.5rem;border-radius:6px}label{display:block;margin:.4rem 0}
body{max-width:44rem}#reason{width:100%;font:inherit}</style>`;
  return page(
    'Notification preferences',
    `${style}<main><h1>Notification preferences</h1>${status}
<form method="post" aria-describedby="intro">
<p id="intro">Choose which messages reach you, and how. Security alerts and payment notices are always sent.</p>
<table aria-label="Messages by channel"><thead><tr><th scope="col">Messages</th>${head}</tr></thead>
<tbody><tr class="channels"><th scope="row"><strong>Any messages</strong></th>${switches}</tr>
${rows}</tbody></table>
<fieldset><legend>Text messages</legend>
<label><input type="checkbox" id="sms-consent" name="sms_consent"${checked(view.smsConsent)}> I agree to receive text messages${options.phone ? ` at ${escape(options.phone)}` : ''}. Reply STOP to any of them to stop.</label>
</fieldset>
<fieldset><legend>Urgent messages</legend>
<label for="preferred-channel">Send urgent messages first by</label>
<select id="preferred-channel" name="preferred_channel">${preferred}</select>
</fieldset>
<label><input type="checkbox" id="unsubscribed" name="unsubscribed"${checked(view.unsubscribed)}> Only security alerts and payment notices: nothing else</label>
<label for="reason">Why (optional)</label>
<input type="text" id="reason" name="reason" maxlength="500">
<p><button type="submit">Save preferences</button></p>
</form></main>`,
  );
}
