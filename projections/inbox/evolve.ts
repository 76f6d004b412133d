/**
 * An in-app item's state, folded from its state-change events in order of (occurred_at, event id):
 * the order the contract defines for every read model, so any delivery order and any duplicates
 * give the same state.
 *
 * - seen: seen_at is the first seen (or read) time; nothing makes an item unseen again.
 * - read: read implies seen; read_at is the time of the first read since the latest unread, so a
 *   repeated read (a client's retry) keeps it.
 * - unread: clears read_at (seen_at stays).
 * - archived: archived_at is the first archive time; there is no unarchive.
 *
 * Pure.
 */
import type { DeliveryKind } from '../../lib/topics.ts';

export const itemKinds = ['seen', 'read', 'unread', 'archived'] as const satisfies readonly DeliveryKind[];
export type ItemKind = (typeof itemKinds)[number];

export function isItemKind(kind: string): kind is ItemKind {
  return (itemKinds as readonly string[]).includes(kind);
}

export interface ItemState {
  readonly seenAt: number | null;
  readonly readAt: number | null;
  readonly archivedAt: number | null;
}

export interface ItemEvent {
  readonly eventId: string;
  readonly kind: ItemKind;
  readonly at: number;
}

export const unseen: ItemState = { seenAt: null, readAt: null, archivedAt: null };

/** The state after one more event, later than every event folded into `state`. */
export function evolve(state: ItemState, event: ItemEvent): ItemState {
  switch (event.kind) {
    case 'seen':
      return { ...state, seenAt: state.seenAt ?? event.at };
    case 'read':
      return { ...state, seenAt: state.seenAt ?? event.at, readAt: state.readAt ?? event.at };
    case 'unread':
      return { ...state, readAt: null };
    case 'archived':
      return { ...state, archivedAt: state.archivedAt ?? event.at };
    default: {
      const _exhaustive: never = event.kind;
      return _exhaustive;
    }
  }
}

/** Event-time order: occurred_at, then event id (bytewise). */
export function byEventTime(a: ItemEvent, b: ItemEvent): number {
  if (a.at !== b.at) return a.at - b.at;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

/** The state of an item with these events, in any order, duplicates included. */
export function foldItem(events: readonly ItemEvent[]): ItemState {
  const unique = new Map(events.map((e) => [e.eventId, e]));
  return [...unique.values()].sort(byEventTime).reduce(evolve, unseen);
}
