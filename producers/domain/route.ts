/**
 * POST /v1/events {type, key, data, occurred_at?, event_id?} — a domain event validated against
 * the schema registered for its type; 202 after Kafka's ack; idempotent on event_id.
 */
import { Router } from 'express';
import { principalOf, requireScope } from '../../lib/http/auth.ts';
import { bodyBytes, parseJson, rawBody, requireContentType } from '../../lib/http/body.ts';
import type { Runtime } from '../../lib/runtime.ts';
import type { ApiKeys } from '../keys/store.ts';
import type { DomainPublisher } from './publisher.ts';

export function domainEventRoutes(rt: Runtime, keys: ApiKeys, publisher: DomainPublisher): Router {
  const router = Router();
  router.post('/v1/events', requireScope(keys, 'publish'), rawBody(rt.config.http.bodyLimitBytes), async (req, res) => {
    requireContentType(req, ['application/json']);
    const published = await publisher.publishInput(parseJson(bodyBytes(req)), `key:${principalOf(res).keyId}`);
    res.status(202).json(published);
  });
  return router;
}
