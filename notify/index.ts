/**
 * What the producers (the notification, preference, unsubscribe and provider webhook routes) and
 * the processors (dispatch, dunning, fraud) share about notifications. Both import it; it imports
 * only lib/ and the preference read model (projections/preferences).
 *
 * - request.ts: building a NotificationRequested with ids derived from its source.
 * - render.ts: the Handlebars templates in templates/<locale>/ and SMS segment counting.
 * - evidence.ts: provider callbacks recorded as evidence that a message was sent.
 * - message-index.ts: provider message id (Twilio SID, Vonage message-id) → notification id.
 * - unsubscribe-token.ts: signed unsubscribe links.
 * - preference-change.ts: the one way to change a user's preferences.
 * - links.ts: link fields in template data are https URLs.
 * - template-categories.ts: the category each template is sent in.
 * - contact-token.ts, contact-confirmation.ts: confirming a new email or phone.
 * - push-subscriptions.ts: the Web Push subscriptions registered per user.
 */
export { notificationIdFor, notificationRequest, priorities, type Priority } from './request.ts';
export { DEFAULT_LOCALE, Templates, fitSms, formatDate, formatMoney, smsSize, type Rendered, type SmsSize } from './render.ts';
export { SendEvidence } from './evidence.ts';
export { TwilioMessageIndex, VonageMessageIndex } from './message-index.ts';
export {
  TOKEN_DAYS,
  signUnsubscribeToken,
  unsubscribeUrl,
  verifyUnsubscribeToken,
  type TokenCheck,
  type UnsubscribeClaims,
} from './unsubscribe-token.ts';
export { changePreferences, type ChangeResult, type PreferenceChange } from './preference-change.ts';
export { LINK_FIELD, isHttpsUrl, linkProblems, withSafeLinks } from './links.ts';
export { CONTACT_CONFIRMATION_TEMPLATE, categoryFor, templateCategories, type CategoryCheck, type TemplateCategories } from './template-categories.ts';
export {
  CONTACT_TOKEN_DAYS,
  contactConfirmationUrl,
  contactHash,
  isTokenAddress,
  signContactToken,
  verifyContactToken,
  type ContactChannel,
  type ContactClaims,
  type ContactTokenCheck,
} from './contact-token.ts';
export { contactConfirmationRequest } from './contact-confirmation.ts';
export {
  DEFAULT_MAX_PUSH_SUBSCRIPTIONS_PER_USER,
  PUSH_SUBSCRIPTION_ID,
  PushSubscriptions,
  pushServiceOf,
  pushSubscriptionId,
  type PushSubscriptionInput,
  type PushSubscriptionKeys,
  type Registration,
  type RegistrationOutcome,
  type StoredPushSubscription,
} from './push-subscriptions.ts';
export { keywordOf, recordSmsRecipient, usersOfNumber, type SmsKeyword } from './sms-numbers.ts';
