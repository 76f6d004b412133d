/**
 * Masks personal data in JSON the dashboard shows (a subscription version's state, anything
 * Stripe-shaped): analysts see the structure and the money, never who the customer is.
 *
 * - A field named like personal data (`email`, `name`, `phone`, `address`, or a snake_case,
 *   kebab-case or camelCase name ending in one of them: `receipt_email`, `first_name`,
 *   `shipping_address`, `customerEmail`) has its value replaced by MASK, whatever the value is (an
 *   address object goes whole). A null stays null: it hides nothing and shows the field was empty.
 * - Inside a `metadata` object, whose keys are the merchant's own, a value that looks like an email
 *   address or a phone number is masked too, whatever its key.
 * - Anywhere else, a string containing an email address is masked: free text (a description, a
 *   memo) is where addresses leak.
 *
 * It errs on the side of hiding: a coupon's or product's `name` is masked as well, which costs an
 * analyst nothing the ids do not tell.
 */

export const MASK = '•••';

/** JSON as `JSON.parse` and Postgres' jsonb give it. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

// The word alone or last in a snake_case or kebab-case name (any case), or last in a camelCase one;
// two patterns, so that `nickname` or `filename` (no word boundary) are not taken for `name`.
const PERSONAL_WORD = /(?:^|[_-])(?:email|name|phone|address)$/i;
const PERSONAL_CAMEL = /[a-z0-9](?:Email|Name|Phone|Address)$/;
const personalKey = (key: string) => PERSONAL_WORD.test(key) || PERSONAL_CAMEL.test(key);
const EMAIL = /[^\s@]+@[^\s@]+\.[^\s@]+/;
// A phone number as merchants type it into metadata: optional +, at least seven digits, and only
// separators between them. A bare amount (`4900`) has too few digits; a date (`2026-11-03`) does
// match, and is hidden too: over-masking metadata costs less than leaking a number.
const PHONE = /^\+?[\d\s().-]{7,}$/;

function looksPersonal(value: string): boolean {
  return EMAIL.test(value) || (PHONE.test(value) && value.replace(/\D/g, '').length >= 7);
}

function isRecord(value: Json): value is { readonly [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A copy of `value` with every personal field masked; `value` itself is not changed. `inMetadata`:
 * the value sits (at any depth) under a `metadata` key.
 */
export function maskPersonal(value: Json, inMetadata = false): Json {
  if (typeof value === 'string') return (inMetadata ? looksPersonal(value) : EMAIL.test(value)) ? MASK : value;
  if (Array.isArray(value)) return value.map((v: Json) => maskPersonal(v, inMetadata));
  if (!isRecord(value)) return value;
  // fromEntries defines own properties: a key such as `__proto__` stays a key, not a prototype.
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => {
      return [key, v !== null && personalKey(key) ? MASK : maskPersonal(v, inMetadata || key.toLowerCase() === 'metadata')];
    }),
  );
}
