/**
 * Numbers and the users they belong to, for SMS keyword replies: the dispatcher records each number
 * it texts for a user; a STOP or START from a number is about those users and about every user
 * whose preferences give that number.
 */
import type { Db } from '../lib/db.ts';

export async function recordSmsRecipient(db: Db, phone: string, userId: string, at = Date.now()): Promise<void> {
  await db.query(
    `INSERT INTO dispatch.sms_recipients (phone, user_id, last_sent_at) VALUES ($1, $2, $3)
     ON CONFLICT (phone, user_id) DO UPDATE SET last_sent_at = GREATEST(dispatch.sms_recipients.last_sent_at, excluded.last_sent_at)`,
    [phone, userId, new Date(at)],
  );
}

/** The users a reply from `phone` is about, sorted. */
export async function usersOfNumber(db: Db, phone: string): Promise<string[]> {
  const { rows } = await db.query<{ user_id: string }>(
    `SELECT user_id FROM dispatch.sms_recipients WHERE phone = $1
     UNION SELECT user_id FROM preferences.user_preferences WHERE preferences ->> 'phone' = $1
     ORDER BY 1`,
    [phone],
  );
  return rows.map((r) => r.user_id);
}

/** What an inbound SMS asks (Twilio's and the CTIA's standard keywords, the whole message, any case). */
export type SmsKeyword = 'stop' | 'start' | 'help' | null;

export function keywordOf(body: string): SmsKeyword {
  const word = body.trim().toUpperCase().replace(/[.!]+$/, '');
  if (['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT'].includes(word)) return 'stop';
  if (['START', 'UNSTOP', 'YES', 'OPTIN'].includes(word)) return 'start';
  if (['HELP', 'INFO'].includes(word)) return 'help';
  return null;
}
