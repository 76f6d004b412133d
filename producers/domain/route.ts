/**
 * POST /v1/events {type, key, data, occurred_at?, event_id?} — a domain event validated against
 * the schema registered for its type; 202 after Kafka's ack; idempotent on event_id.
 *
 * Scope `publish`; an event type that a domain-event rule (EVENTLINE_RULES) turns into an
 * essential notification (security, payment: past opt-outs and the daily cap) also needs
 * `essential`, as requesting that notification directly does (403): otherwise a publish-only key
 * could send anyone a "security alert" of its own words.
 */
import { Router } from 'express';
import { EventlineError } from '../../lib/errors.ts';
import { hasScope, principalOf, requireScope } from '../../lib/http/auth.ts';
import { bodyBytes, parseJson, rawBody, requireContentType } from '../../lib/http/body.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { domainTypeName } from '../../lib/topics.ts';
import { isEssential } from '../../projections/preferences/document.ts';
import { loadRules } from '../../notify/index.ts';
import type { ApiKeys } from '../keys/store.ts';
import type { DomainPublisher } from './publisher.ts';

/** The event types a rule maps to an essential category (a rules file that does not load maps none: the rules processor refuses to start on it). */
function essentialEventTypes(rt: Runtime): ReadonlySet<string> {
  try {
    return new Set(loadRules(rt.config.rules.path).flatMap((r) => (isEssential(r.category) ? [r.event] : [])));
  } catch (err) {
    rt.log.error({ err: err instanceof Error ? err.message : String(err) }, 'the domain-event rules do not load: processor.rules will not start, and no event type needs the essential scope');
    return new Set();
  }
}

export function domainEventRoutes(rt: Runtime, keys: ApiKeys, publisher: DomainPublisher): Router {
  const router = Router();
  const essential = essentialEventTypes(rt);
  router.post('/v1/events', requireScope(keys, 'publish'), rawBody(rt.config.http.bodyLimitBytes), async (req, res) => {
    requireContentType(req, ['application/json']);
    const body = parseJson(bodyBytes(req));
    const type = body !== null && typeof body === 'object' && typeof (body as { type?: unknown }).type === 'string' ? domainTypeName((body as { type: string }).type) : null;
    const principal = principalOf(res);
    if (type && essential.has(type) && !hasScope(principal, 'essential')) {
      throw new EventlineError('forbidden', `${type} becomes an essential notification (EVENTLINE_RULES): publishing it needs the "essential" scope besides "publish"`);
    }
    const published = await publisher.publishInput(body, `key:${principal.keyId}`);
    res.status(202).json(published);
  });
  return router;
}
