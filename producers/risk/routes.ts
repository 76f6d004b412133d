/**
 * Risk routes:
 *
 *   POST /v1/risk/assess      (publish) score a payment about to be attempted, synchronously, with the
 *                             fraud processor's core, factors and windows (lib/risk/score.ts) and the
 *                             allow and block lists; the assessment is appended to risk.fraud-scores.v1
 *                             (a FraudScored with source_event_type risk.assess, which the processor
 *                             counts as an attempt of the customer) before the answer
 *                             → 200 {assessment_id, score, action, factors, model_version}
 *   POST /v1/risk/reviews     (admin) {payment_id, label: fraudulent|legitimate, reason?}: an analyst's
 *                             label of a scored payment (a PaymentLabeled event) → 201; 404 when not scored
 *   GET  /v1/risk/lists       (admin) every allow and block entry
 *   POST /v1/risk/lists       (admin) {list, kind, value, reason?} → 201 the entry (200 when unchanged)
 *   DELETE /v1/risk/lists/:list/:kind/:value (admin) → 200, 404 when not on that list
 *
 * Bad input: 4xx JSON, nothing appended.
 */
import { createHash, randomUUID } from 'node:crypto';
import { derivedId } from '../../lib/ids.ts';
import { Router } from 'express';
import { z } from 'zod';
import { EntityStore } from '../../lib/decider/index.ts';
import { EventlineError } from '../../lib/errors.ts';
import { principalOf, requireScope, type Authenticator } from '../../lib/http/auth.ts';
import { bodyBytes, parseJson, rawBody, requireContentType, validInput } from '../../lib/http/body.ts';
import { changeList, listKinds, listNames, readLists, RiskLists, type ListKind, type ListName } from '../../lib/risk/lists.ts';
import { defaultFraudPolicy, scoredRecord, scoreInView, type FraudPolicy, type PaymentFacts } from '../../lib/risk/score.ts';
import { ASSESSMENT, emptyRisk, riskKinds, type CardRisk, type CustomerFacts, type CustomerRisk } from '../../lib/risk/state.ts';
import { reviewPayment } from '../../lib/risk/reviews.ts';
import type { Runtime } from '../../lib/runtime.ts';

const country = z.string().regex(/^[A-Za-z]{2}$/, 'an ISO 3166-1 alpha-2 country code like US');

export const assessInput = z
  .object({
    customer_id: z.string().regex(/^cus_[A-Za-z0-9]{1,64}$/, 'a Stripe customer id like cus_...'),
    amount: z.number().int().min(1).max(100_000_000_000),
    currency: z.string().regex(/^[A-Za-z]{3}$/, 'a 3-letter currency code like usd'),
    card_fingerprint: z.string().regex(/^[A-Za-z0-9]{8,32}$/, "the card's Stripe fingerprint").optional(),
    card_country: country.optional(),
    billing_country: country.optional(),
    bin: z.string().regex(/^\d{6,8}$/, 'the first 6 to 8 digits of the card number').optional(),
    email: z.email().max(254).optional(),
    ip: z.union([z.ipv4(), z.ipv6()], { error: 'an IPv4 or IPv6 address' }).optional(),
    device_id: z.string().min(1).max(200).optional(),
    payment_id: z.string().min(1).max(200).optional(),
    idempotency_key: z.string().min(1).max(200).optional(),
  })
  .strict();

const listInput = z.object({ list: z.enum(listNames), kind: z.enum(listKinds), value: z.string().min(1).max(254), reason: z.string().min(1).max(500).optional() }).strict();

const reviewInput = z.object({ payment_id: z.string().min(3).max(200), label: z.enum(['fraudulent', 'legitimate']), reason: z.string().min(1).max(500).optional() }).strict();

/** An assessment's id, from its source: the same idempotency key of the same key gives the same id. */
function assessmentIdFor(source: string): string {
  return derivedId('asm', source);
}

export function riskRoutes(rt: Runtime, keys: Authenticator, policy: FraudPolicy = defaultFraudPolicy): Router {
  const router = Router();
  const store = new EntityStore(rt.redis);
  const lists = new RiskLists(rt.db, rt.config.risk.listsRefreshMs);
  const limit = rt.config.http.bodyLimitBytes;

  router.post('/v1/risk/assess', requireScope(keys, 'publish'), rawBody(limit), async (req, res) => {
    requireContentType(req, ['application/json']);
    const input = validInput(assessInput, parseJson(bodyBytes(req)), 'invalid assessment request');
    const keyId = principalOf(res).keyId;
    const bodyHash = createHash('sha256').update(JSON.stringify({ ...input, idempotency_key: undefined })).digest('hex');
    const idemKey = input.idempotency_key ? `risk:assess:${keyId}:${input.idempotency_key}` : null;
    if (idemKey) {
      const seen = await rt.redis.get(idemKey);
      if (seen) {
        const previous = JSON.parse(seen) as { body_hash: string; answer: unknown };
        if (previous.body_hash !== bodyHash) throw new EventlineError('conflict', 'this idempotency_key was used with a different assessment request');
        res.json(previous.answer);
        return;
      }
    }
    const at = Date.now();
    const id = assessmentIdFor(input.idempotency_key ? `${keyId}:${input.idempotency_key}` : randomUUID());
    const facts: PaymentFacts = {
      eventId: id,
      eventType: ASSESSMENT,
      customerId: input.customer_id,
      paymentId: input.payment_id ?? null,
      amount: input.amount,
      currency: input.currency.toLowerCase(),
      at,
      cardCountry: input.card_country?.toUpperCase() ?? null,
      billingCountry: input.billing_country?.toUpperCase() ?? null,
      fingerprint: input.card_fingerprint ?? null,
      email: input.email ?? null,
      ip: input.ip ?? null,
      deviceId: input.device_id ?? null,
      bin: input.bin ?? null,
      // The payment it is for, when the caller names it (a PaymentIntent): its own events count as the same attempt.
      attemptId: input.payment_id ?? id,
    };
    // The processor's state as it stands (its windows, the card's flag, the directory) and the lists.
    const [risk, card, customer, snapshot] = await Promise.all([
      store.get<CustomerRisk>({ kind: riskKinds.customer, key: facts.customerId }),
      facts.fingerprint ? store.get<CardRisk>({ kind: riskKinds.card, key: facts.fingerprint }) : Promise.resolve(null),
      store.get<CustomerFacts>({ kind: riskKinds.directory, key: facts.customerId }),
      lists.current(),
    ]);
    const decision = scoreInView(facts, { risk: risk ?? emptyRisk, customer, cardFlaggedAt: card?.flaggedAt ?? null, lists: snapshot.match(facts) }, policy);
    const scored = scoredRecord(facts, decision, at);
    await (await rt.kafka.appender()).append('risk.fraud-scores.v1', [{ key: facts.customerId, record: 'FraudScored', value: scored }]);
    const answer = { assessment_id: id, score: decision.score, action: decision.action, factors: decision.factors, model_version: scored.model_version };
    if (idemKey) await rt.redis.set(idemKey, JSON.stringify({ body_hash: bodyHash, answer }), 'EX', 86_400);
    res.json(answer);
  });

  // An analyst's review: the truth about a scored payment (a charge, a PaymentIntent, or an assessment by its id).
  router.post('/v1/risk/reviews', requireScope(keys, 'admin'), rawBody(limit), async (req, res) => {
    requireContentType(req, ['application/json']);
    const r = validInput(reviewInput, parseJson(bodyBytes(req)), 'invalid review');
    const label = await reviewPayment(rt.db, rt.kafka, { paymentId: r.payment_id, label: r.label, reason: r.reason ?? null, actor: `key:${principalOf(res).keyId}` });
    res.status(201).json({ payment_id: r.payment_id, customer_id: label.customer_id, label: r.label, event_id: label.event_id });
  });

  // The entries are personal data (emails, IPs): admin only, as the dashboard shows addresses only to admin keys.
  router.get('/v1/risk/lists', requireScope(keys, 'admin'), async (_req, res) => {
    res.json({ entries: await readLists(rt.db) });
  });

  router.post('/v1/risk/lists', requireScope(keys, 'admin'), rawBody(limit), async (req, res) => {
    requireContentType(req, ['application/json']);
    const e = validInput(listInput, parseJson(bodyBytes(req)), 'invalid list entry');
    const event = await changeList(rt.db, rt.kafka, { change: 'added', list: e.list, kind: e.kind, value: e.value, reason: e.reason ?? null, actor: `key:${principalOf(res).keyId}` });
    res.status(event ? 201 : 200).json({ list: e.list, kind: e.kind, value: event?.value ?? e.value, reason: e.reason ?? null, changed: event !== null, ...(event ? { event_id: event.event_id } : {}) });
  });

  router.delete('/v1/risk/lists/:list/:kind/:value', requireScope(keys, 'admin'), async (req, res) => {
    const list = String(req.params.list ?? '');
    const kind = String(req.params.kind ?? '');
    if (!(listNames as readonly string[]).includes(list)) throw new EventlineError('bad_request', `list: allow or block, not ${list}`);
    if (!(listKinds as readonly string[]).includes(kind)) throw new EventlineError('bad_request', `kind: one of ${listKinds.join(', ')}`);
    const event = await changeList(rt.db, rt.kafka, { change: 'removed', list: list as ListName, kind: kind as ListKind, value: String(req.params.value ?? ''), reason: null, actor: `key:${principalOf(res).keyId}` });
    if (!event) throw new EventlineError('not_found', `${kind} ${String(req.params.value)} is not on the ${list} list`);
    res.json({ list, kind, value: event.value, removed: true, event_id: event.event_id });
  });

  return router;
}
