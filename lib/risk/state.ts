/**
 * The fraud processor's state as an assessment reads it (processors/fraud/evolve.ts folds it into
 * Redis; POST /v1/risk/assess reads it there): the customer's payment windows, a card's fraud flag,
 * the customer directory's entry. Shapes and entity kind names only.
 */
import type { Mark } from './score.ts';

export interface CustomerRisk {
  readonly latest: number;
  readonly attempts: readonly Mark[];
  readonly small: readonly Mark[];
  /** Source event id → when it happened: scored already. */
  readonly scored: Readonly<Record<string, number>>;
}

export const emptyRisk: CustomerRisk = { latest: 0, attempts: [], small: [], scored: {} };

export interface CardRisk {
  /** When the card was first involved in fraud; null: never. */
  readonly flaggedAt: number | null;
}

/** What the customer directory keeps that scoring reads. */
export interface CustomerFacts {
  readonly createdAt: number | null;
  readonly email: string | null;
  readonly country: string | null;
}

/** Entity kind names (lib/decider): the customer's risk, a card, a directory customer. */
export const riskKinds = { customer: 'fraud:customer', card: 'fraud:card', directory: 'directory:customer' } as const;

/** The source_event_type of a FraudScored made by POST /v1/risk/assess (the processor counts it as a payment attempt). */
export const ASSESSMENT = 'risk.assess';
