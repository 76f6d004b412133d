/**
 * GET /v1/users/:userId/preferences   current preferences (defaults when the user never set any)
 * PUT /v1/users/:userId/preferences   replace them; appends a change event (who: the API key, why:
 *                                     `reason`); security and payment cannot be turned off (422)
 *
 * Contact details: changing `email` or `phone` needs the `contacts` scope besides `preferences`
 * (403 naming the fields). A new address is unconfirmed, and Eventline sends it a confirmation
 * link (notify/contact-confirmation.ts): until the user follows it, security and payment messages
 * keep going to the Stripe customer's address. PUTting the same document again asks again for
 * each pending confirmation (one notification per preference change, so a retry sends it once).
 * The confirmation fields are not part of the document a client sends: answers carry them apart,
 * in `contacts`.
 *
 * Both routes take, besides an API key, a user token for the same user (POST /v1/users/:userId/token,
 * producers/inbox/routes.ts): the user's own page. Its changes are recorded with actor
 * `user:<user id>`; it cannot change `email` or `phone` (no `contacts` scope).
 */
import { Router, type Request } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { hasScope, principalOf, requireScope } from '../../lib/http/auth.ts';
import { bodyBytes, inputProblems, parseJson, rawBody, requireContentType } from '../../lib/http/body.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { changePreferences, contactConfirmationRequest, type ChangeResult } from '../../notify/index.ts';
import {
  confirmationOf,
  contactChanges,
  contactChannel,
  contactFields,
  essentialViolations,
  preferencesInput,
  toPreferences,
  withConfirmationsOf,
  optInSms,
  optOutSms,
  type ContactField,
  type Preferences,
} from '../../projections/preferences/document.ts';
import { readPreferences } from '../../projections/preferences/store.ts';
import { contactRoutes } from '../contacts/route.ts';
import type { ApiKeys } from '../keys/store.ts';

export const USER_ID = /^[A-Za-z0-9_.:@+-]{1,128}$/;

export function userIdParam(req: Request): string {
  const userId = String(req.params.userId ?? '');
  if (!USER_ID.test(userId)) throw new EventlineError('bad_request', 'userId must be 1..128 letters, digits or _.:@+-');
  return userId;
}

/** The document as a client sends it (without the confirmation fields), and the contacts' confirmation state apart. */
function answer(doc: Preferences): { preferences: Omit<Preferences, 'email_confirmed_at' | 'phone_confirmed_at'>; contacts: Record<ContactField, { confirmed_at: string | null }> } {
  const { email_confirmed_at: _e, phone_confirmed_at: _p, ...preferences } = doc;
  const contacts = Object.fromEntries(
    contactFields.map((f) => {
      const at = confirmationOf(doc, f);
      return [f, { confirmed_at: at === null ? null : new Date(at).toISOString() }];
    }),
  ) as Record<ContactField, { confirmed_at: string | null }>;
  return { preferences, contacts };
}

/** The addresses to send a confirmation to after a change: set, unconfirmed, and new in it (or, for a repeated document, still pending). */
export function pendingConfirmations(result: Pick<ChangeResult, 'changed' | 'preferences' | 'previous'>): ContactField[] {
  const changed = contactChanges(result.previous, result.preferences);
  return contactFields.filter((f) => result.preferences[f] !== null && confirmationOf(result.preferences, f) === null && (!result.changed || changed.includes(f)));
}

export function preferenceRoutes(rt: Runtime, keys: ApiKeys): Router {
  const router = Router();
  // A user's own page may use a user token (lib/http/user-token.ts) here instead of an API key.
  const userTokens = { userTokens: { secret: rt.config.unsubscribeSecret } };

  router.get('/v1/users/:userId/preferences', requireScope(keys, 'preferences', userTokens), async (req, res) => {
    const userId = userIdParam(req);
    const stored = await readPreferences(rt.db, userId, { box: await rt.privacy() });
    res.json({ user_id: userId, ...answer(stored.preferences), changed_at: stored.changedAt?.toISOString() ?? null });
  });

  router.put('/v1/users/:userId/preferences', requireScope(keys, 'preferences', userTokens), rawBody(rt.config.http.bodyLimitBytes), async (req, res) => {
    const userId = userIdParam(req);
    requireContentType(req, ['application/json']);
    const parsed = preferencesInput.safeParse(parseJson(bodyBytes(req)));
    if (!parsed.success) {
      const problems = inputProblems(parsed.error);
      throw new EventlineError('unprocessable', 'invalid preferences', { detail: problems });
    }
    const doc = toPreferences(parsed.data);
    const violations = essentialViolations(doc);
    if (violations.length > 0) throw new EventlineError('unprocessable', 'essential notifications cannot be turned off', { detail: violations });
    const principal = principalOf(res);
    // Consent given or withdrawn in this change names the change (the audit trail shows it as such).
    const consent = parsed.data.sms_consent;
    // A user token is the user's own page (a product's settings page or the hosted centre): the
    // user, not a backend, made the change.
    const source = principal.userId !== undefined ? 'preference_centre' : 'api';
    const result = await changePreferences(rt, {
      userId,
      change: consent === true ? 'sms_opted_in' : consent === false ? 'sms_opted_out' : 'updated',
      actor: principal.keyId,
      reason: parsed.data.reason ?? null,
      source,
      category: null,
      // Under the per-user lock: the contacts compared are the ones a concurrent change left.
      next: (current) => {
        const changed = contactChanges(current, doc);
        if (changed.length > 0 && !hasScope(principal, 'contacts')) {
          throw new EventlineError('forbidden', 'changing contact details needs the "contacts" scope', {
            detail: changed.map((f) => `${f}: differs from the current one; keep it as it is, or use a key with the "contacts" scope`),
          });
        }
        const kept = withConfirmationsOf(current, doc);
        if (consent === true) return optInSms(kept, source, Date.now());
        if (consent === false) return optOutSms(kept);
        return kept;
      },
    });
    // Only a key that may set contacts may have one confirmed: otherwise an address planted before
    // the scope existed could be confirmed by re-sending the document with a preferences-only key.
    const pending = result.eventId && hasScope(principal, 'contacts') ? pendingConfirmations(result) : [];
    const requests = pending.map((field) => contactConfirmationRequest({ userId, field, changeEventId: result.eventId ?? '', requestedBy: `key:${principal.keyId}`, at: Date.now() }));
    if (requests.length > 0) {
      const appender = await rt.kafka.appender();
      await appender.append('notify.dispatch-requests.v1', requests.map((value) => ({ key: userId, record: 'NotificationRequested' as const, value })));
    }
    res.status(200).json({
      user_id: userId,
      ...answer(result.preferences),
      changed: result.changed,
      event_id: result.event?.event_id ?? null,
      confirmations_requested: requests.map((r, i) => ({ field: pending[i], channel: contactChannel[pending[i] as ContactField], notification_id: r.notification_id })),
    });
  });

  // The confirmation links the messages above carry (authenticated by their signed token).
  router.use(contactRoutes(rt));

  return router;
}
