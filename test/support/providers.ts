/**
 * Signing requests the way each provider does, with the providers' own helpers where they exist:
 * Stripe's SDK, an ECDSA P-256 key pair for SendGrid, Twilio's signature function.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import Stripe from 'stripe';
import twilio from 'twilio';

export const stripeSecret = 'whsec_test_4eC39HqLyjWDarjtT1zdp7dc';
export const twilioAuthToken = '9a7cd2b6e3f14e10b0b1c6d7e8f9a0b1';
export const twilioAccountSid = 'AC0123456789abcdef0123456789abcdef';
export const unsubscribeSecret = 'test-unsubscribe-secret-0123456789abcdef';
export const publicUrl = 'https://hooks.eventline.test';

const sendgridKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
export const sendgridPublicKeyBase64 = sendgridKeys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
export const sendgridPrivateKey: KeyObject = sendgridKeys.privateKey;

/** Environment for a test app with every webhook configured. */
export const providerEnv: Readonly<Record<string, string>> = {
  STRIPE_WEBHOOK_SECRET: stripeSecret,
  SENDGRID_WEBHOOK_PUBLIC_KEY: sendgridPublicKeyBase64,
  TWILIO_AUTH_TOKEN: twilioAuthToken,
  UNSUBSCRIBE_SECRET: unsubscribeSecret,
  EVENTLINE_PUBLIC_URL: publicUrl,
};

export function stripeSignature(payload: string, options: { secret?: string; timestamp?: number } = {}): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? stripeSecret,
    ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {}),
  });
}

export function sendgridHeaders(body: string, options: { timestamp?: number; key?: KeyObject } = {}): Record<string, string> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = sign('sha256', Buffer.concat([Buffer.from(timestamp), Buffer.from(body)]), options.key ?? sendgridPrivateKey).toString('base64');
  return {
    'content-type': 'application/json',
    'x-twilio-email-event-webhook-signature': signature,
    'x-twilio-email-event-webhook-timestamp': timestamp,
  };
}

export function twilioSignature(url: string, params: Record<string, string>, token = twilioAuthToken): string {
  return twilio.getExpectedTwilioSignature(token, url, params);
}

/** Provider settings that point the real SendGrid (and Twilio) SDKs at local fake servers, with the webhook secrets. */
export function fakeProviderEnv(fakes: { readonly sendgrid: { readonly url: string }; readonly twilio?: { readonly url: string } }): Record<string, string> {
  return {
    ...providerEnv,
    SENDGRID_API_KEY: 'SG.test-key',
    SENDGRID_API_URL: fakes.sendgrid.url,
    ...(fakes.twilio ? { TWILIO_ACCOUNT_SID: twilioAccountSid, TWILIO_FROM_NUMBER: '+15005550006', TWILIO_API_URL: fakes.twilio.url } : {}),
  };
}
