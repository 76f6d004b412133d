/**
 * The request that sends a new email address or phone number its confirmation link: template
 * contact_confirmation, category account, forced onto the channel of the address (so it goes to
 * the new address, which non-essential messages use), CRITICAL (the user is waiting for it: no
 * quiet hours, no daily cap). The link itself is made by the dispatcher when it sends, for the
 * address it sends to, so no token is ever stored on a topic. One request per preference change
 * and address: asking again for the same change is the same notification, sent once.
 */
import type { NotificationRequested } from '../lib/topics.ts';
import { contactChannel, type ContactField } from '../projections/preferences/document.ts';
import { notificationRequest } from './request.ts';
import { CONTACT_CONFIRMATION_TEMPLATE } from './template-categories.ts';

export function contactConfirmationRequest(r: { userId: string; field: ContactField; changeEventId: string; requestedBy: string; at: number }): NotificationRequested {
  const channel = contactChannel[r.field];
  return notificationRequest({
    source: `contact-confirmation:${r.userId}:${r.changeEventId}:${channel}`,
    userId: r.userId,
    template: CONTACT_CONFIRMATION_TEMPLATE,
    category: 'account',
    priority: 'CRITICAL',
    channel,
    data: { contact: r.field },
    requestedBy: r.requestedBy,
    sourceEventId: r.changeEventId,
    at: r.at,
  });
}
