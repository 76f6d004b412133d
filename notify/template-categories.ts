/**
 * The category of each template, decided here and not by whoever requests a notification: the
 * category says whether a message is essential (security, payment: past opt-outs and the daily
 * cap), so a caller must not pick it. A template lists the categories it may be sent in; the
 * first is the one used when a request names none. Every template in templates/en-US/ has an
 * entry (checked by notify/template-categories.unit.test.ts). Pure.
 *
 * `api: false` marks a template only Eventline itself requests (the API refuses it).
 */
import { isEssential } from '../projections/preferences/document.ts';

export interface TemplateCategories {
  readonly categories: readonly [string, ...string[]];
  readonly api: boolean;
}

/** The template sent to a new email address or phone number, with the link that confirms it. */
export const CONTACT_CONFIRMATION_TEMPLATE = 'contact_confirmation';

export const templateCategories: Readonly<Record<string, TemplateCategories>> = {
  card_expiring: { categories: ['billing'], api: true },
  contact_confirmation: { categories: ['account'], api: false },
  digest: { categories: ['product'], api: true },
  final_notice: { categories: ['payment'], api: true },
  fraud_review: { categories: ['security'], api: true },
  payment_action_required: { categories: ['payment'], api: true },
  payment_failed: { categories: ['payment'], api: true },
  plan_changed: { categories: ['billing'], api: true },
  receipt: { categories: ['billing', 'payment'], api: true },
  retention_alert: { categories: ['account'], api: true },
  security_alert: { categories: ['security'], api: true },
  subscription_canceled: { categories: ['billing'], api: true },
  trial_ending: { categories: ['billing'], api: true },
  update_payment_method: { categories: ['payment'], api: true },
  usage_threshold: { categories: ['billing'], api: true },
  welcome_subscription: { categories: ['account'], api: true },
};

export type CategoryCheck =
  | { readonly ok: true; readonly category: string; readonly essential: boolean }
  | { readonly ok: false; readonly problem: string };

/** The category a request for `template` is sent in: the requested one if the template allows it, else its first. */
export function categoryFor(template: string, requested: string | null | undefined, via: 'api' | 'internal' = 'internal'): CategoryCheck {
  const entry = templateCategories[template];
  if (!entry) return { ok: false, problem: `template: ${template} declares no category (notify/template-categories.ts)` };
  if (via === 'api' && !entry.api) return { ok: false, problem: `template: ${template} is sent by Eventline itself, not requested through the API` };
  const category = requested ?? entry.categories[0];
  if (!entry.categories.includes(category)) {
    return { ok: false, problem: `category: ${template} is sent as ${entry.categories.join(' or ')}, not ${category}` };
  }
  return { ok: true, category, essential: isEssential(category) };
}
