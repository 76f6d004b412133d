/**
 * POST /v1/notifications  {user_id, template, category?, priority?, channel?, data?, idempotency_key?,
 *                          send_at?, escalation?: {after_seconds, unless: opened|clicked|read, channel},
 *                          recurrence?: {every, until?, count?},
 *                          sequence?: {steps: [{delay_seconds, template, priority?, channel?, data?}],
 *                                      exit_when?: {invoice_paid?, engaged?: opened|clicked|read}}}
 *                          → 202 {notification_id, category}; the same id again for a repeated idempotency key.
 *                          The template decides the category (notify/template-categories.ts): an
 *                          omitted one is filled in, another one is refused (422); the essential
 *                          categories (security, payment) need the `essential` scope (403). `data`
 *                          must match the template's declared data (notify/template-data.ts): typed
 *                          fields, link fields (`*_url`) https URLs, no field it does not declare
 *                          (422 naming each).
 * GET  /v1/notifications/:id → {notification_id, status, timeline}: the furthest status reached
 *                          (never regressed by a late callback) and every step with its time
 */
import { createHash, randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { EventlineError } from '../../lib/errors.ts';
import { hasScope, principalOf, requireScope } from '../../lib/http/auth.ts';
import { bodyBytes, inputProblems, parseJson, rawBody, requireContentType } from '../../lib/http/body.ts';
import { activeVersion } from '../../lib/projection-versions.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { categoryFor, dataProblems, notificationIdFor, notificationRequest, priorities, Templates } from '../../notify/index.ts';
import type { ApiKeys } from '../keys/store.ts';
import { channels, isEssential } from '../../projections/preferences/document.ts';
import type { NotificationSequenceStep } from '../../lib/topics.ts';
import { USER_ID } from '../preferences/route.ts';

const templateName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a template name like payment_failed');
/** A sequence's steps, the first included, and how long it may run: within the 120 days a paid invoice is remembered (dispatch/evolve.ts). */
const MAX_SEQUENCE_STEPS = 10;
const MAX_SEQUENCE_SECONDS = 90 * 86_400;

export const notificationInput = z
  .object({
    user_id: z.string().regex(USER_ID, '1..128 letters, digits or _.:@+-'),
    template: templateName,
    category: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'a category like billing').optional(),
    priority: z.enum(priorities).default('NORMAL'),
    channel: z.enum(channels).optional(),
    data: z.record(z.string(), z.unknown()).default({}),
    idempotency_key: z.string().min(1).max(200).optional(),
    /** Scheduled: not sent before this time (ISO 8601 with an offset); at most 30 days ahead (a notification's state is kept 60); a past time sends at once. */
    send_at: z.iso
      .datetime({ offset: true, message: 'an ISO 8601 time with an offset, like 2026-12-24T09:00:00Z' })
      .refine((v) => Date.parse(v) <= Date.now() + MAX_SCHEDULE_MS, 'at most 30 days ahead')
      .optional(),
    /** Send on `channel` when the first message got no `unless` engagement within `after_seconds`. */
    escalation: z
      .object({
        after_seconds: z.number().int().min(60).max(30 * 86_400),
        unless: z.enum(['opened', 'clicked', 'read']),
        channel: z.enum(channels),
      })
      .strict()
      .optional(),
    /** Repeat every day, week or month from send_at (or now), until a time or for a count of occurrences. */
    recurrence: z
      .object({
        every: z.enum(['day', 'week', 'month']),
        until: z.iso
          .datetime({ offset: true, message: 'an ISO 8601 time with an offset' })
          .refine((v) => Date.parse(v) <= Date.now() + 2 * 365 * 86_400_000, 'at most two years ahead')
          .optional(),
        count: z.number().int().min(2).max(1000).optional(),
      })
      .strict()
      .refine((r) => r.until !== undefined || r.count !== undefined, 'give until, count or both: a series must end')
      .optional(),
    /**
     * A drip sequence: this request is its first step, `steps` the ones after it, each `delay_seconds`
     * after the step before; no step goes out once `exit_when` holds (the invoice paid or voided, the
     * user engaged with an earlier step) or the sequence id was DELETEd. A step's priority and data
     * default to the first step's.
     */
    sequence: z
      .object({
        steps: z
          .array(
            z
              .object({
                delay_seconds: z.number().int().min(60).max(30 * 86_400),
                template: templateName,
                priority: z.enum(priorities).optional(),
                channel: z.enum(channels).optional(),
                data: z.record(z.string(), z.unknown()).optional(),
              })
              .strict(),
          )
          .min(1)
          .max(MAX_SEQUENCE_STEPS - 1),
        exit_when: z
          .object({
            invoice_paid: z.string().regex(/^in_[A-Za-z0-9_]{1,200}$/, 'a Stripe invoice id like in_1Qx...').optional(),
            engaged: z.enum(['opened', 'clicked', 'read']).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .refine((q) => q.steps.reduce((sum, step) => sum + step.delay_seconds, 0) <= MAX_SEQUENCE_SECONDS, 'the steps\' delays add up to at most 90 days')
      .optional(),
  })
  .strict()
  .refine((v) => !(v.sequence && v.recurrence), { message: 'a notification is either recurring or a sequence, not both', path: ['sequence'] })
  .refine((v) => !v.escalation || !v.channel || v.escalation.channel !== v.channel, { message: 'escalation.channel must differ from channel', path: ['escalation', 'channel'] });

/** How far ahead send_at may be: well inside the 60 days a notification's dispatch state lives (evolve.ts), so it is there when its timer fires. */
const MAX_SCHEDULE_MS = 30 * 86_400_000;

interface Requested {
  readonly notification_id: string;
  readonly body_hash: string;
  readonly requested_at: number;
}

export function notificationRoutes(rt: Runtime, keys: ApiKeys): Router {
  const router = Router();
  const templates = new Templates();

  router.post('/v1/notifications', requireScope(keys, 'publish'), rawBody(rt.config.http.bodyLimitBytes), async (req, res) => {
    requireContentType(req, ['application/json']);
    const body = parseJson(bodyBytes(req));
    const parsed = notificationInput.safeParse(body);
    if (!parsed.success) throw new EventlineError('unprocessable', 'invalid notification request', { detail: inputProblems(parsed.error) });
    const input = parsed.data;
    if (!templates.has(input.template)) throw new EventlineError('unprocessable', `unknown template ${input.template}; templates: ${templates.templates().join(', ')}`);
    const bound = categoryFor(input.template, input.category, 'api');
    if (!bound.ok) throw new EventlineError('unprocessable', 'invalid notification request', { detail: [bound.problem] });
    const principal = principalOf(res);
    if (bound.essential && !hasScope(principal, 'essential')) {
      throw new EventlineError('forbidden', `${input.template} is a ${bound.category} notification, which reaches users past their opt-outs and daily cap: this key lacks the "essential" scope`);
    }
    const problems = dataProblems(input.template, input.data);
    if (problems.length > 0) throw new EventlineError('unprocessable', 'invalid notification request', { detail: problems });
    const category = bound.category;
    // Every later step of a sequence is checked now as the first is: template, category, scope, data.
    const steps = (input.sequence?.steps ?? []).map((step, i): NotificationSequenceStep => {
      const where = `sequence.steps.${i}`;
      if (!templates.has(step.template)) throw new EventlineError('unprocessable', 'invalid notification request', { detail: [`${where}.template: unknown template ${step.template}`] });
      const b = categoryFor(step.template, undefined, 'api');
      if (!b.ok) throw new EventlineError('unprocessable', 'invalid notification request', { detail: [`${where}: ${b.problem}`] });
      if (b.essential && !hasScope(principal, 'essential')) throw new EventlineError('forbidden', `${where}: ${step.template} is a ${b.category} notification: this key lacks the "essential" scope`);
      const data = step.data ?? input.data;
      const stepProblems = dataProblems(step.template, data).map((p) => `${where}.${p}`);
      if (stepProblems.length > 0) throw new EventlineError('unprocessable', 'invalid notification request', { detail: stepProblems });
      return { delay_seconds: step.delay_seconds, template: step.template, category: b.category, priority: step.priority ?? input.priority, channel: step.channel ?? null, data: JSON.stringify(data) };
    });
    const keyId = principal.keyId;
    const bodyHash = createHash('sha256').update(JSON.stringify({ ...input, category, idempotency_key: undefined })).digest('hex');
    const idemKey = input.idempotency_key ? `api:idempotency:${keyId}:${input.idempotency_key}` : null;
    if (idemKey) {
      const seen = await rt.redis.get(idemKey);
      if (seen) {
        const previous = JSON.parse(seen) as Requested;
        if (previous.body_hash !== bodyHash) throw new EventlineError('conflict', 'this idempotency_key was used with a different request');
        res.status(202).json({ notification_id: previous.notification_id, category, duplicate: true });
        return;
      }
    }
    const now = Date.now();
    const source = input.idempotency_key ? `api:${keyId}:${input.idempotency_key}` : `api:${randomUUID()}`;
    const sendAt = input.send_at ? Date.parse(input.send_at) : null;
    const seriesId = input.recurrence || input.sequence ? notificationIdFor(source) : null;
    const request = notificationRequest({
      source,
      userId: input.user_id,
      template: input.template,
      category,
      priority: input.priority,
      channel: input.channel ?? null,
      data: input.data,
      requestedBy: `key:${keyId}`,
      idempotencyKey: input.idempotency_key ?? null,
      at: now,
      sendAt,
      escalation: input.escalation ?? null,
      recurrence:
        input.recurrence && seriesId
          ? { every: input.recurrence.every, until: input.recurrence.until ? Date.parse(input.recurrence.until) : null, count: input.recurrence.count ?? null, occurrence: 0, series_id: seriesId, starts_at: sendAt ?? now }
          : null,
      sequence:
        input.sequence && seriesId
          ? { series_id: seriesId, step: 0, steps, exit_invoice_paid: input.sequence.exit_when?.invoice_paid ?? null, exit_engaged: input.sequence.exit_when?.engaged ?? null }
          : null,
    });
    // A series is known to DELETE by its id for as long as it runs (the first occurrence may be long sent).
    if (seriesId && (input.recurrence || input.sequence)) {
      // A sequence's cancel needs the essential scope when any of its steps is essential.
      const seriesCategory = [category, ...steps.map((s) => s.category)].find(isEssential) ?? category;
      await rt.db.query('INSERT INTO dispatch.series (series_id, user_id, category, every) VALUES ($1, $2, $3, $4) ON CONFLICT (series_id) DO NOTHING', [seriesId, input.user_id, seriesCategory, input.recurrence?.every ?? 'sequence']);
    }
    const appender = await rt.kafka.appender();
    await appender.append('notify.dispatch-requests.v1', [{ key: request.user_id, record: 'NotificationRequested', value: request }]);
    const requested: Requested = { notification_id: request.notification_id, body_hash: bodyHash, requested_at: now };
    const m = rt.redis.multi().set(`api:notification:${request.notification_id}`, JSON.stringify({ ...requested, user_id: input.user_id, template: input.template, category, priority: input.priority }), 'EX', 7 * 86_400);
    if (idemKey) m.set(idemKey, JSON.stringify(requested), 'EX', 7 * 86_400);
    await m.exec();
    res.status(202).json({ notification_id: request.notification_id, category, ...(seriesId ? { series_id: seriesId } : {}) });
  });

  router.get('/v1/notifications/:id', requireScope(keys, 'read'), async (req, res) => {
    const id = String(req.params.id ?? '');
    if (!/^ntf_[A-Za-z0-9]{1,64}$/.test(id)) throw new EventlineError('bad_request', 'a notification id looks like ntf_...');
    const version = await activeVersion(rt.db, 'delivery');
    if (version) {
      const n = await rt.db.query<{ user_id: string; template: string; category: string; priority: string; status: string; requested_at: Date | null; status_at: Date | null }>(
        `SELECT user_id, template, category, priority, status, requested_at, status_at FROM ${version.schema}.notifications WHERE notification_id = $1`,
        [id],
      );
      const row = n.rows[0];
      if (row) {
        const steps = await rt.db.query<{ step: string; at: Date; channel: string | null; provider: string | null; detail: string | null }>(
          `SELECT step, at, channel, provider, detail FROM ${version.schema}.steps WHERE notification_id = $1 ORDER BY at, rank, event_id`,
          [id],
        );
        res.json({
          notification_id: id,
          status: row.status ?? 'requested',
          user_id: row.user_id,
          template: row.template,
          category: row.category,
          priority: row.priority,
          requested_at: row.requested_at?.toISOString() ?? null,
          status_at: row.status_at?.toISOString() ?? null,
          timeline: steps.rows.map((s) => ({ step: s.step, at: s.at.toISOString(), channel: s.channel, provider: s.provider, detail: s.detail })),
        });
        return;
      }
    }
    const pending = await rt.redis.get(`api:notification:${id}`);
    if (pending) {
      const p = JSON.parse(pending) as Requested & { user_id: string; template: string; category: string; priority: string };
      const at = new Date(p.requested_at).toISOString();
      res.json({ notification_id: id, status: 'requested', user_id: p.user_id, template: p.template, category: p.category, priority: p.priority, requested_at: at, status_at: at, timeline: [{ step: 'requested', at, channel: null, provider: null, detail: null }] });
      return;
    }
    throw new EventlineError('not_found', `no notification ${id}`);
  });

  return router;
}
