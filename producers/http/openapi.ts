/**
 * GET /openapi.json — the OpenAPI 3.1 document of Eventline's HTTP routes. Request bodies come from
 * the same zod schemas the routes validate with, so the document cannot drift from the code.
 */
import { Router } from 'express';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { domainEventInput } from '../domain/publisher.ts';
import { tokenInput } from '../inbox/routes.ts';
import { notificationInput } from '../notifications/route.ts';
import { preferencesInput } from '../../projections/preferences/document.ts';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const error = { $ref: '#/components/schemas/Error' };
const json = (schema: object) => ({ 'application/json': { schema } });
const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      {
        description:
          {
            400: 'bad input: malformed JSON, bad signature, stale timestamp',
            401: 'no valid API key',
            403: 'the key lacks the scope',
            404: 'not found',
            409: 'conflict: an idempotency key reused with a different request',
            410: 'gone: link expired or already used',
            413: 'body too large',
            415: 'wrong content type',
            422: 'valid JSON, invalid content',
            503: 'a dependency (Kafka) is unavailable, or the route is not configured; retry',
          }[c] ?? 'error',
        content: json(error),
      },
    ]),
  );

function schemaOf(s: z.ZodType): object {
  return z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as object;
}

export function openapiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Eventline',
      version,
      description: 'Event-sourced billing and messaging backbone. Webhooks are authenticated by provider signatures, /v1 routes by `Authorization: Bearer <api key>`.',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'evl_<id>_<secret> from `eventline keys create`' },
        userToken: { type: 'http', scheme: 'bearer', description: "evu_… from POST /v1/users/{userId}/token: that user's inbox and preferences only, for at most a day" },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'detail'],
          properties: { error: { type: 'string', description: 'a stable code' }, detail: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } },
        },
        PreferencesInput: schemaOf(preferencesInput),
        DomainEventInput: schemaOf(domainEventInput),
        NotificationInput: schemaOf(notificationInput),
        TokenInput: schemaOf(tokenInput),
      },
    },
    paths: {
      '/webhooks/stripe': {
        post: {
          summary: 'Stripe webhook endpoint',
          description: 'Verifies Stripe-Signature on the raw body (its timestamp within EVENTLINE_WEBHOOK_TOLERANCE_SECONDS, 300 s by default, of now, past or future) and appends the event to stripe.events.v1. 200 only after Kafka acknowledged it.',
          parameters: [{ name: 'Stripe-Signature', in: 'header', required: true, schema: { type: 'string' } }],
          requestBody: { required: true, content: json({ type: 'object', description: 'a Stripe event' }) },
          responses: { 200: { description: 'appended (or a duplicate already appended)', content: json({ type: 'object' }) }, ...errors(400, 413, 503) },
        },
      },
      '/webhooks/sendgrid': {
        post: {
          summary: 'SendGrid signed event webhook',
          parameters: [
            { name: 'X-Twilio-Email-Event-Webhook-Signature', in: 'header', required: true, schema: { type: 'string' } },
            { name: 'X-Twilio-Email-Event-Webhook-Timestamp', in: 'header', required: true, schema: { type: 'string' } },
          ],
          requestBody: { required: true, content: json({ type: 'array', items: { type: 'object' } }) },
          responses: { 200: { description: 'every event of the batch appended', content: json({ type: 'object' }) }, ...errors(400, 413, 503) },
        },
      },
      '/webhooks/twilio/status': {
        post: {
          summary: 'Twilio message status callback',
          parameters: [
            { name: 'X-Twilio-Signature', in: 'header', required: true, schema: { type: 'string' } },
            { name: 'notification_id', in: 'query', required: false, schema: { type: 'string' } },
          ],
          requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object' } } } },
          responses: { 200: { description: 'appended', content: { 'text/xml': { schema: { type: 'string' } } } }, ...errors(400, 413, 415, 503) },
        },
      },
      '/webhooks/twilio/inbound': {
        post: {
          summary: 'Twilio incoming SMS (STOP / START / HELP keywords)',
          description: 'Verified like the status callbacks; recorded as a `received` delivery event. STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT withdraw the SMS consent of the users of the sending number, START and UNSTOP give it back (preference events, source keyword); HELP and INFO are answered with a TwiML help message.',
          parameters: [{ name: 'X-Twilio-Signature', in: 'header', required: true, schema: { type: 'string' } }],
          requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object' } } } },
          responses: { 200: { description: 'TwiML: empty, or the help message', content: { 'text/xml': { schema: { type: 'string' } } } }, ...errors(400, 413, 415, 503) },
        },
      },
      '/webhooks/vonage/status': {
        post: {
          summary: 'Vonage SMS delivery receipt',
          description:
            'A signed delivery receipt (signed webhooks on; VONAGE_SIGNATURE_SECRET), as a form or a JSON object. Verified on its `sig` field over every other field, its signed `timestamp` within EVENTLINE_WEBHOOK_TOLERANCE_SECONDS of now, then appended to notify.delivery-events.v1. The notification comes from the message-id recorded at send time, else from notification_id (which the signature does not cover).',
          parameters: [{ name: 'notification_id', in: 'query', required: false, schema: { type: 'string' } }],
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': { schema: { type: 'object', additionalProperties: { type: 'string' } } },
              'application/json': { schema: { type: 'object', additionalProperties: { type: 'string' } } },
            },
          },
          responses: { 200: { description: 'appended (or a duplicate already appended)', content: json({ type: 'object' }) }, ...errors(400, 413, 415, 503) },
        },
      },
      '/v1/users/{userId}/preferences': {
        parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.:@+-]{1,128}$' } }],
        get: {
          summary: "A user's current notification preferences (defaults when never set)",
          security: [{ apiKey: [] }, { userToken: [] }],
          responses: { 200: { description: 'preferences', content: json({ type: 'object' }) }, ...errors(400, 401, 403) },
        },
        put: {
          summary: 'Replace the preferences; appends a change event (who: the key, why: reason)',
          security: [{ apiKey: [] }, { userToken: [] }],
          requestBody: { required: true, content: json({ $ref: '#/components/schemas/PreferencesInput' }) },
          responses: { 200: { description: 'stored', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 413, 415, 422, 503) },
        },
      },
      '/v1/users/{userId}/inbox': {
        parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.:@+-]{1,128}$' } }],
        get: {
          summary: "The user's in-app feed, newest first (keyset cursor), with unread and unseen counts over the items not archived",
          security: [{ apiKey: [] }, { userToken: [] }],
          parameters: [
            { name: 'status', in: 'query', required: false, schema: { type: 'string', enum: ['unread', 'unseen', 'archived', 'all'] }, description: 'default: every item not archived' },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 24 } },
            { name: 'cursor', in: 'query', required: false, schema: { type: 'string' }, description: 'next_cursor of the previous page' },
          ],
          responses: { 200: { description: '{items, unread_count, unseen_count, next_cursor}', content: json({ type: 'object' }) }, ...errors(400, 401, 403) },
        },
      },
      '/v1/users/{userId}/inbox/{notificationId}/{action}': {
        parameters: [
          { name: 'userId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.:@+-]{1,128}$' } },
          { name: 'notificationId', in: 'path', required: true, schema: { type: 'string', pattern: '^ntf_[A-Za-z0-9]{1,64}$' } },
          { name: 'action', in: 'path', required: true, schema: { type: 'string', enum: ['seen', 'read', 'unread', 'archive'] } },
        ],
        post: {
          summary: 'Change an in-app item: appends a delivery event (provider eventline, channel in_app); seen and archive append nothing when already so',
          security: [{ apiKey: [] }, { userToken: [] }],
          responses: { 200: { description: '{notification_id, action, appended, event_id, item}', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 404, 503) },
        },
      },
      '/v1/users/{userId}/inbox/read-all': {
        parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.:@+-]{1,128}$' } }],
        post: {
          summary: 'Read every unread item not archived (one delivery event each)',
          security: [{ apiKey: [] }, { userToken: [] }],
          responses: { 200: { description: '{marked}', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 503) },
        },
      },
      '/v1/users/{userId}/push-subscriptions': {
        parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.:@+-]{1,128}$' } }],
        post: {
          summary: "Register a browser for Web Push: its PushSubscription.toJSON() ({endpoint, keys: {p256dh, auth}}); the same endpoint again answers 200 with the same id",
          security: [{ apiKey: [] }, { userToken: [] }],
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['endpoint', 'keys'],
              properties: {
                endpoint: { type: 'string', format: 'uri', description: 'https URL of the push service' },
                expirationTime: { type: ['number', 'null'] },
                keys: { type: 'object', required: ['p256dh', 'auth'], properties: { p256dh: { type: 'string' }, auth: { type: 'string' } } },
              },
            }),
          },
          responses: { 200: { description: 'already registered: {id, endpoint, created_at}', content: json({ type: 'object' }) }, 201: { description: 'registered: {id, endpoint, created_at}', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 413, 415, 422) },
        },
      },
      '/v1/users/{userId}/push-subscriptions/{id}': {
        parameters: [
          { name: 'userId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.:@+-]{1,128}$' } },
          { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^psub_[0-9a-f]{32}$' } },
        ],
        delete: {
          summary: 'Remove a push subscription',
          security: [{ apiKey: [] }, { userToken: [] }],
          responses: { 204: { description: 'removed' }, ...errors(401, 403, 404) },
        },
      },
      '/v1/users/{userId}/token': {
        parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.:@+-]{1,128}$' } }],
        post: {
          summary: "A short-lived user token (scope admin) for that user's inbox and preferences, signed with UNSUBSCRIBE_SECRET",
          security: [{ apiKey: [] }],
          requestBody: { required: false, content: json({ $ref: '#/components/schemas/TokenInput' }) },
          responses: { 200: { description: '{token, expires_at}', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 413, 415, 422, 503) },
        },
      },
      '/v1/preference-centre/{token}': {
        parameters: [{ name: 'token', in: 'path', required: true, schema: { type: 'string', pattern: '^evu_' }, description: 'a user token (POST /v1/users/{userId}/token, or the unsubscribe page link)' }],
        get: { summary: 'The hosted preference centre: every category × channel, essential ones locked on (HTML; JSON when asked)', responses: { 200: { description: 'HTML page, or JSON' }, ...errors(400, 410, 503) } },
        post: {
          summary: "Save the page's form: one preference event (source preference_centre); 303 back to the page, or JSON {saved, changed, event_id}",
          requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', additionalProperties: { type: 'string' } } } } },
          responses: { 200: { description: 'saved (JSON)' }, 303: { description: 'saved: back to the page' }, ...errors(400, 410, 413, 415, 422, 503) },
        },
      },
      '/v1/unsubscribe/{token}': {
        parameters: [{ name: 'token', in: 'path', required: true, schema: { type: 'string' } }],
        get: { summary: 'Confirmation page (does not unsubscribe)', responses: { 200: { description: 'HTML page, or JSON' }, ...errors(400, 410, 422, 503) } },
        post: {
          summary: 'Unsubscribe (RFC 8058 one-click: body List-Unsubscribe=One-Click); a token works once',
          requestBody: { content: { 'application/x-www-form-urlencoded': { schema: { type: 'object' } } } },
          responses: { 200: { description: 'unsubscribed' }, ...errors(400, 410, 422, 503) },
        },
      },
      '/v1/contacts/confirm/{token}': {
        parameters: [{ name: 'token', in: 'path', required: true, schema: { type: 'string' } }],
        get: { summary: 'Confirmation page for a new email or phone (does not confirm)', responses: { 200: { description: 'HTML page' }, ...errors(400, 410, 503) } },
        post: { summary: 'Confirm the email or phone the link was sent to, if it is still the user\'s; appends PreferencesChanged (contact_confirmed)', responses: { 200: { description: 'confirmed' }, ...errors(400, 410, 503) } },
      },
      '/v1/events': {
        post: {
          summary: 'Publish a domain event, validated against the schema registered for its type',
          security: [{ apiKey: [] }],
          requestBody: { required: true, content: json({ $ref: '#/components/schemas/DomainEventInput' }) },
          responses: { 202: { description: 'acknowledged by Kafka', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 413, 415, 422, 503) },
        },
      },
      '/v1/notifications': {
        post: {
          summary: 'Request a notification; 202 with its id (the same id again for a repeated idempotency_key)',
          security: [{ apiKey: [] }],
          requestBody: { required: true, content: json({ $ref: '#/components/schemas/NotificationInput' }) },
          responses: { 202: { description: 'appended to notify.dispatch-requests.v1', content: json({ type: 'object', properties: { notification_id: { type: 'string' } } }) }, ...errors(400, 401, 403, 409, 413, 415, 422, 503) },
        },
      },
      '/v1/notifications/{id}': {
        get: {
          summary: 'Status (the furthest reached, never regressed) and timeline of a notification',
          security: [{ apiKey: [] }],
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: { description: 'status and timeline', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 404) },
        },
        delete: {
          summary: 'Cancel a notification not sent yet (scheduled, deferred, batched, retrying, or requested and not decided); scope publish (+ essential for security and payment)',
          security: [{ apiKey: [] }],
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            200: { description: 'already cancelled', content: json({ type: 'object' }) },
            202: { description: '{notification_id, status: cancelling}: the dispatcher cancels it unless a channel went out first', content: json({ type: 'object' }) },
            ...errors(400, 401, 403, 404, 409),
          },
        },
      },
      '/v1/risk/assess': {
        post: {
          summary: 'Score a payment about to be attempted, synchronously (the fraud processor\'s core, factors and windows, and the allow and block lists); the assessment is appended to risk.fraud-scores.v1 before the answer; scope publish',
          security: [{ apiKey: [] }],
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['customer_id', 'amount', 'currency'],
              additionalProperties: false,
              properties: {
                customer_id: { type: 'string', pattern: '^cus_' },
                amount: { type: 'integer', minimum: 0, description: 'minor units' },
                currency: { type: 'string', pattern: '^[A-Za-z]{3}$' },
                card_fingerprint: { type: 'string' },
                card_country: { type: 'string' },
                billing_country: { type: 'string' },
                bin: { type: 'string' },
                email: { type: 'string' },
                ip: { type: 'string' },
                device_id: { type: 'string' },
                payment_id: { type: 'string' },
                idempotency_key: { type: 'string' },
              },
            }),
          },
          responses: { 200: { description: '{assessment_id, score, action: allow|review|require_3ds|block, factors: [{name, weight, detail}], model_version}', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 409, 413, 415, 422, 503) },
        },
      },
      '/v1/risk/reviews': {
        post: {
          summary: "An analyst's label of a scored payment {payment_id, label: fraudulent|legitimate, reason?}: appends a PaymentLabeled; scope admin",
          security: [{ apiKey: [] }],
          requestBody: { required: true, content: json({ type: 'object', required: ['payment_id', 'label'] }) },
          responses: { 201: { description: 'labelled', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 404, 413, 415, 422, 503) },
        },
      },
      '/v1/users/{userId}/export': {
        get: {
          summary: 'Everything Eventline holds about the user as one JSON document (format eventline.user-export.v1), personal fields opened; the same as `eventline privacy export`; scope admin',
          security: [{ apiKey: [] }],
          parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: { description: 'the export', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 503) },
        },
      },
      '/v1/users/{userId}/erase': {
        post: {
          summary: "Right to be forgotten: destroys the data keys of the user, its Stripe customers and notifications (crypto-shredding), purges the user's personal data from Postgres and Redis, appends a UserErased; 202 with the erasure (the same one when asked again); scope admin",
          security: [{ apiKey: [] }],
          parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 202: { description: '{erasure_id, user_id, status, requested_by, requested_at, completed_at, subjects, purged}', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 503) },
        },
      },
      '/v1/erasures/{erasureId}': {
        get: {
          summary: 'An erasure: pending, then done with the subjects destroyed and the rows purged; scope admin',
          security: [{ apiKey: [] }],
          parameters: [{ name: 'erasureId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: { description: 'the erasure', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 404) },
        },
      },
      '/v1/risk/lists': {
        get: { summary: 'Every allow and block list entry; scope admin (the entries are personal data)', security: [{ apiKey: [] }], responses: { 200: { description: '{entries: [{list, kind, value, reason, added_by, added_at}]}', content: json({ type: 'object' }) }, ...errors(401, 403) } },
        post: {
          summary: 'Put a value on the allow or block list {list, kind, value, reason?} (kinds: email, email_domain, card_fingerprint, bin, ip, country, customer); appends a RiskListChanged; scope admin',
          security: [{ apiKey: [] }],
          requestBody: { required: true, content: json({ type: 'object', required: ['list', 'kind', 'value'] }) },
          responses: { 200: { description: 'unchanged', content: json({ type: 'object' }) }, 201: { description: 'added', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 413, 415, 422, 503) },
        },
      },
      '/v1/risk/lists/{list}/{kind}/{value}': {
        delete: {
          summary: 'Take a value off a list; appends a RiskListChanged; scope admin',
          security: [{ apiKey: [] }],
          parameters: ['list', 'kind', 'value'].map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
          responses: { 200: { description: 'removed', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 404, 503) },
        },
      },
      '/v1/dashboard': {
        get: {
          summary: 'The dashboard data (scope read; session cookie or bearer key); the bridge, SaaS metrics, daily MRR, latest movements and cohorts for the months from..to (default: the last 12)',
          security: [{ apiKey: [] }],
          parameters: [
            { name: 'currency', in: 'query', required: false, schema: { type: 'string', pattern: '^[a-z]{3}$' } },
            { name: 'from', in: 'query', required: false, schema: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' } },
            { name: 'to', in: 'query', required: false, schema: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' } },
          ],
          responses: { 200: { description: 'dashboard data' }, ...errors(400, 401, 403) },
        },
      },
      '/v1/dashboard/reviews': {
        post: {
          summary: "The dashboard's review buttons: label a scored payment {payment_id, label: fraudulent|legitimate} (session cookie or bearer key with admin; refused cross-site)",
          security: [{ apiKey: [] }],
          requestBody: { required: true, content: json({ type: 'object', required: ['payment_id', 'label'] }) },
          responses: { 201: { description: 'labelled (a PaymentLabeled on risk.fraud-scores.v1)', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 404, 422, 503) },
        },
      },
      '/v1/dashboard/movements': {
        get: {
          summary: "The drill-down from a month of the bridge: that UTC month's MRR movements in a currency (at most 500; total given), each with its seq",
          security: [{ apiKey: [] }],
          parameters: [
            { name: 'month', in: 'query', required: true, schema: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$' } },
            { name: 'currency', in: 'query', required: true, schema: { type: 'string', pattern: '^[a-z]{3}$' } },
          ],
          responses: { 200: { description: 'the month\'s movements', content: json({ type: 'object' }) }, ...errors(400, 401, 403) },
        },
      },
      '/v1/dashboard/movements/{customerId}/{seq}': {
        get: {
          summary: "One movement and why: its parts by subscription (mrr_lineage) and the subscription versions behind them, personal fields masked; seq is the movement's position among the customer's movements in the currency",
          security: [{ apiKey: [] }],
          parameters: [
            { name: 'customerId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,255}$' } },
            { name: 'seq', in: 'path', required: true, schema: { type: 'string', pattern: '^\\d{1,9}$' } },
            { name: 'currency', in: 'query', required: true, schema: { type: 'string', pattern: '^[a-z]{3}$' } },
          ],
          responses: { 200: { description: 'the movement, its parts and versions', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 404) },
        },
      },
      '/v1/dashboard/stripe-events/{customerId}/{eventId}': {
        get: {
          summary: "The Stripe event behind one of the customer's subscription versions, as received (read from stripe.events.v1), personal fields masked",
          security: [{ apiKey: [] }],
          parameters: [
            { name: 'customerId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,255}$' } },
            { name: 'eventId', in: 'path', required: true, schema: { type: 'string', pattern: '^evt_[A-Za-z0-9_]{1,250}$' } },
          ],
          responses: { 200: { description: 'the event, masked, with where it is on the topic', content: json({ type: 'object' }) }, ...errors(400, 401, 403, 404) },
        },
      },
      '/': { get: { summary: 'The analyst dashboard (asks for an API key once, then keeps a session cookie)', responses: { 200: { description: 'HTML' } } } },
      '/login': {
        post: {
          summary: 'Dashboard sign-in: exchange an API key with the read scope for a session cookie (refused from another site or origin)',
          requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] } } } },
          responses: { 303: { description: 'signed in; the session cookie is set' }, 401: { description: 'the key is not valid (HTML)' }, 403: { description: 'the key lacks the read scope, or a cross-site post' }, 413: { description: 'body too large' } },
        },
      },
      '/logout': {
        post: { summary: 'Dashboard sign-out: ends the session server-side (refused from another site or origin)', responses: { 303: { description: 'signed out' }, 403: { description: 'a cross-site post', content: json(error) } } },
      },
      '/assets/{name}': {
        get: {
          summary: "The dashboard's script, style and Chart.js",
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string', enum: ['dashboard.js', 'dashboard.css', 'chart.js'] } }],
          responses: { 200: { description: 'the asset' }, ...errors(400, 404) },
        },
      },
      '/healthz': { get: { summary: 'Liveness', responses: { 200: { description: 'the process answers' } } } },
      '/readyz': { get: { summary: 'Readiness: Kafka, registry, Postgres, Redis', responses: { 200: { description: 'ready' }, 503: { description: 'a dependency is down' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics (incl. consumer lag)', responses: { 200: { description: 'text exposition format' } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    },
  };
}

export function openapiRoutes(): Router {
  const router = Router();
  const doc = openapiDocument();
  router.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
  return router;
}
