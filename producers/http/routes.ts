/**
 * Every HTTP route of Eventline, assembled for one runtime: health, OpenAPI, webhooks, the /v1 API
 * and the analyst dashboard. The HTTP composition root: it builds the shared parts (the key store,
 * provider evidence, the Twilio and Vonage message indexes) and hands them to each router; web/ is
 * mounted here and knows the key store only as lib/http's Authenticator.
 */
import type express from 'express';
import { BusinessMetrics } from '../../lib/business-metrics.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { SendEvidence, TwilioMessageIndex, VonageMessageIndex, templateCategories } from '../../notify/index.ts';
import { dashboardRoutes } from '../../web/routes.ts';
import { DomainPublisher } from '../domain/publisher.ts';
import { domainEventRoutes } from '../domain/route.ts';
import { ApiKeys } from '../keys/store.ts';
import { cancelNotificationRoutes } from '../notifications/cancel.ts';
import { riskRoutes } from '../risk/routes.ts';
import { privacyRoutes } from '../privacy/routes.ts';
import { notificationRoutes } from '../notifications/route.ts';
import { inboxRoutes } from '../inbox/routes.ts';
import { preferenceRoutes } from '../preferences/route.ts';
import { preferenceCentreRoutes } from '../preference-centre/route.ts';
import { pushSubscriptionRoutes } from '../push/routes.ts';
import { loadSendgridPublicKey } from '../sendgrid/verify.ts';
import { sendgridWebhookRoutes } from '../sendgrid/route.ts';
import { STRIPE_SEEN_PREFIX, stripeWebhookRoutes } from '../stripe/route.ts';
import { twilioWebhookRoutes } from '../twilio/route.ts';
import { twilioInboundRoutes } from '../twilio/inbound.ts';
import { unsubscribeRoutes } from '../unsubscribe/route.ts';
import { vonageWebhookRoutes } from '../vonage/route.ts';
import { createApp } from './app.ts';
import { healthRoutes } from './health.ts';
import { openapiRoutes } from './openapi.ts';
import { RecentlySeen } from './recently-seen.ts';

export interface HttpDeps {
  readonly keys: ApiKeys;
}

/** The HELP reply (CTIA: who is texting, how to stop, that rates may apply). */
const SMS_HELP_TEXT = 'Eventline account notices. Reply STOP to stop, START to resume. Msg & data rates may apply.';

export function buildHttpApp(rt: Runtime, extra: readonly express.Router[] = []): { app: express.Express; deps: HttpDeps } {
  const { config } = rt;
  const log = rt.log.child({ component: 'http' });
  const keys = new ApiKeys(rt.db, config.apiKeys);
  const limit = config.http.bodyLimitBytes;
  const evidence = new SendEvidence(rt.redis);
  // Every category a template may be sent in: the closed vocabulary of the metrics' `category` label.
  const categories = [...new Set(Object.values(templateCategories).flatMap((t) => t.categories))].sort();
  const routers = [
    healthRoutes(rt, {}, new BusinessMetrics(rt.db, { categories, log: rt.log })),
    openapiRoutes(),
    stripeWebhookRoutes({
      kafka: rt.kafka,
      secret: config.stripe.webhookSecret,
      seen: new RecentlySeen(rt.redis, STRIPE_SEEN_PREFIX),
      bodyLimitBytes: limit,
      toleranceSeconds: config.http.webhookToleranceSeconds,
      log,
    }),
    sendgridWebhookRoutes({
      kafka: rt.kafka,
      publicKey: config.sendgrid.webhookPublicKey ? loadSendgridPublicKey(config.sendgrid.webhookPublicKey) : null,
      seen: new RecentlySeen(rt.redis, 'sendgrid:seen'),
      evidence,
      bodyLimitBytes: limit,
      toleranceSeconds: config.http.webhookToleranceSeconds,
      log,
    }),
    twilioWebhookRoutes({
      kafka: rt.kafka,
      authToken: config.twilio.authToken,
      publicUrl: config.http.publicUrl,
      index: new TwilioMessageIndex(rt.redis),
      seen: new RecentlySeen(rt.redis, 'twilio:seen'),
      evidence,
      bodyLimitBytes: limit,
      log,
    }),
    twilioInboundRoutes({
      rt,
      authToken: config.twilio.authToken,
      publicUrl: config.http.publicUrl,
      seen: new RecentlySeen(rt.redis, 'twilio:inbound:seen'),
      bodyLimitBytes: limit,
      log,
      helpText: SMS_HELP_TEXT,
    }),
    vonageWebhookRoutes({
      kafka: rt.kafka,
      signatureSecret: config.vonage.signatureSecret,
      signatureMethod: config.vonage.signatureMethod,
      index: new VonageMessageIndex(rt.redis),
      seen: new RecentlySeen(rt.redis, 'vonage:seen'),
      evidence,
      bodyLimitBytes: limit,
      toleranceSeconds: config.http.webhookToleranceSeconds,
      log,
    }),
    preferenceRoutes(rt, keys),
    inboxRoutes(rt, keys),
    pushSubscriptionRoutes({ db: rt.db, keys, bodyLimitBytes: limit, log, userTokenSecret: config.unsubscribeSecret, allowLoopbackEndpoints: config.push.allowLoopbackEndpoints }),
    unsubscribeRoutes(rt),
    preferenceCentreRoutes(rt),
    domainEventRoutes(rt, keys, new DomainPublisher(rt.kafka, new RecentlySeen(rt.redis, 'domain:seen'))),
    notificationRoutes(rt, keys),
    cancelNotificationRoutes(rt, keys),
    riskRoutes(rt, keys),
      privacyRoutes(rt, keys),
    dashboardRoutes(rt, keys),
    ...extra,
  ];
  return { app: createApp(routers, log), deps: { keys } };
}
