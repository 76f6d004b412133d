/**
 * Twilio's webhook check, shared by the status callbacks and the incoming messages: a form post
 * whose X-Twilio-Signature (twilio SDK) matches EVENTLINE_PUBLIC_URL + the path and query as
 * Twilio called them, and the posted fields. Answers the fields, or throws the 4xx/503 to send
 * (counted in eventline_ingest_rejections_total for `route`).
 */
import type { Request } from 'express';
import twilio from 'twilio';
import { EventlineError } from '../../lib/errors.ts';
import { bodyBytes, requireContentType } from '../../lib/http/body.ts';
import { metrics } from '../../lib/metrics.ts';

export function verifiedTwilioForm(req: Request, route: string, authToken: string | null, publicUrl: string): Record<string, string> {
  const reject = (reason: string, err: EventlineError): never => {
    metrics.ingestRejections.inc({ route, reason });
    throw err;
  };
  if (!authToken) return reject('not_configured', new EventlineError('not_configured', 'TWILIO_AUTH_TOKEN is not configured on this Eventline'));
  try {
    requireContentType(req, ['application/x-www-form-urlencoded']);
  } catch (err) {
    reject('content_type', err as EventlineError);
  }
  const signature = req.get('x-twilio-signature');
  if (!signature) return reject('signature', new EventlineError('signature_invalid', 'missing X-Twilio-Signature header'));
  const params: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(bodyBytes(req).toString('utf8'))) params[k] = v;
  const url = `${publicUrl}${req.originalUrl}`;
  if (!twilio.validateRequest(authToken, signature, url, params)) reject('signature', new EventlineError('signature_invalid', `X-Twilio-Signature does not match ${url} and the posted fields`));
  return params;
}
