/**
 * Demo only: plays the providers for messages in the local outbox. Each email gets SendGrid events
 * (processed, then delivered or bounced, sometimes opened and clicked) and each SMS Twilio status
 * callbacks (sent, then delivered or undelivered), signed with the local development keys and posted
 * to Eventline's own webhook endpoints — the path real provider events take.
 */
import { createHash, createPrivateKey, sign } from 'node:crypto';
import twilio from 'twilio';
import { EventlineError } from '../../lib/errors.ts';
import type { Runtime } from '../../lib/runtime.ts';

/** A stable pseudo-random number in [0, 1) for a message and a purpose. */
function chance(id: string, purpose: string): number {
  return createHash('sha256').update(`${purpose}:${id}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** Waits until the processors have consumed everything and the outbox stops growing (60 s at most). */
export async function settle(rt: Runtime): Promise<number> {
  const deadline = Date.now() + 60_000;
  let last = -1;
  let stableSince = Date.now();
  for (;;) {
    let lag = 0n;
    for (const [group, topic] of [['processor.dunning', 'stripe.events.v1'], ['processor.dispatch', 'notify.dispatch-requests.v1']] as const) {
      const committed = await rt.kafka.committedOffsets(group, topic);
      for (const o of await rt.kafka.topicOffsets(topic)) {
        const c = BigInt(committed.find((x) => x.partition === o.partition)?.offset ?? '-1');
        lag += BigInt(o.high) - (c < 0n ? BigInt(o.low) : c);
      }
    }
    const count = (await rt.db.query<{ n: number }>('SELECT count(*)::int AS n FROM dispatch.outbox')).rows[0]?.n ?? 0;
    if (count !== last || lag > 0n) {
      last = count;
      stableSince = Date.now();
    }
    if (lag === 0n && Date.now() - stableSince > 3000) return count;
    if (Date.now() > deadline) return count;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function simulateDeliveries(rt: Runtime): Promise<{ emails: number; sms: number }> {
  const key = rt.config.devSendgridPrivateKey;
  const token = rt.config.twilio.authToken;
  if (!key || !token) throw new EventlineError('not_configured', 'the demo signs provider events with the local development keys (.infra/dev.env)');
  const privateKey = createPrivateKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'pkcs8' });
  const base = `http://127.0.0.1:${rt.config.http.port}`;
  const rows = (
    await rt.db.query<{ channel: string; recipient: string; notification_id: string; message_id: string; headers: Record<string, string>; created_at: Date }>(
      'SELECT channel, recipient, notification_id, message_id, headers, created_at FROM dispatch.outbox ORDER BY id',
    )
  ).rows;
  const events: Record<string, unknown>[] = [];
  let sms = 0;
  for (const m of rows) {
    const at = Math.floor(m.created_at.getTime() / 1000);
    if (m.channel === 'email') {
      const args = Object.fromEntries(Object.entries(m.headers).filter(([k]) => k.startsWith('x-arg-')).map(([k, v]) => [k.slice(6), v]));
      const common = { email: m.recipient, sg_message_id: `${m.message_id}.filterdrecv-demo`, ...args };
      events.push({ ...common, event: 'processed', timestamp: at + 1, sg_event_id: `demo-p-${m.message_id}` });
      if (chance(m.message_id, 'bounce') < 0.03) {
        events.push({ ...common, event: 'bounce', type: 'bounce', status: '5.1.1', reason: '550 5.1.1 The email account that you tried to reach does not exist', timestamp: at + 4, sg_event_id: `demo-b-${m.message_id}` });
        continue;
      }
      events.push({ ...common, event: 'delivered', response: '250 2.0.0 OK', timestamp: at + 3, sg_event_id: `demo-d-${m.message_id}` });
      if (chance(m.message_id, 'open') < 0.45) events.push({ ...common, event: 'open', timestamp: at + 600, sg_event_id: `demo-o-${m.message_id}`, useragent: 'Mozilla/5.0' });
      if (chance(m.message_id, 'click') < 0.12) events.push({ ...common, event: 'click', url: 'https://app.example.com/billing', timestamp: at + 700, sg_event_id: `demo-c-${m.message_id}` });
    } else {
      sms++;
      for (const status of ['sent', chance(m.message_id, 'sms') < 0.05 ? 'undelivered' : 'delivered']) {
        const path = `/webhooks/twilio/status?notification_id=${encodeURIComponent(m.notification_id)}`;
        const params = { MessageSid: m.message_id, MessageStatus: status, To: m.recipient, From: '+15005550006', AccountSid: 'AC00000000000000000000000000000000', ...(status === 'undelivered' ? { ErrorCode: '30003' } : {}) };
        const res = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(token, `${rt.config.http.publicUrl}${path}`, params) },
          body: new URLSearchParams(params).toString(),
        });
        if (!res.ok) throw new EventlineError('internal', `the Twilio webhook refused a demo callback: ${res.status} ${await res.text()}`);
      }
    }
  }
  for (let i = 0; i < events.length; i += 200) {
    const body = JSON.stringify(events.slice(i, i + 200));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = sign('sha256', Buffer.concat([Buffer.from(timestamp), Buffer.from(body)]), privateKey).toString('base64');
    const res = await fetch(`${base}/webhooks/sendgrid`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': timestamp },
      body,
    });
    if (!res.ok) throw new EventlineError('internal', `the SendGrid webhook refused demo events: ${res.status} ${await res.text()}`);
  }
  return { emails: rows.length - sms, sms };
}
