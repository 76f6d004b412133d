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
 * - template-data.ts: the data each template may use (zod schemas) and a sample of it.
 * - template-check.ts: a templates directory checked: it compiles, and uses only declared data.
 * - contact-token.ts, contact-confirmation.ts: confirming a new email or phone.
 * - push-subscriptions.ts: the Web Push subscriptions registered per user.
 * - experiments.ts: the variant of a template experiment a user is assigned (a stable hash).
 */
export { notificationIdFor, notificationRequest, priorities, type Priority } from './request.ts';
export { DEFAULT_LOCALE, TEMPLATES_DIR, Templates, fitSms, formatDate, formatMoney, smsSize, type Rendered, type SmsSize } from './render.ts';
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
export { RENDER_VARIABLES, dataProblems, templateData, type TemplateData } from './template-data.ts';
export { checkTemplates, type CheckResult, type TemplateFile } from './template-check.ts';
export { MAX_VARIANTS, MIN_VARIANTS, VARIANT_NAME, assignVariant, experimentPosition, variantProblems, type VariantWeight } from './experiments.ts';
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
export { EXPERIMENT_ID, TemplateVersions, publishProblems, publishTemplate, shippedLocales, type PublishInput, type Sections, type VersionInfo } from './template-versions.ts';
export { loadRules, parseRulesText, shippedCatalogue, validateRules, type Rule, type RulesCatalogue } from './rules.ts';
