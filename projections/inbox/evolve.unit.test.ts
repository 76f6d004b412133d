import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { foldItem, itemKinds, type ItemEvent, type ItemKind } from './evolve.ts';

const t0 = Date.UTC(2026, 2, 1, 9, 0, 0);
const e = (kind: ItemKind, minute: number, id = `${kind}-${minute}`): ItemEvent => ({ eventId: id, kind, at: t0 + minute * 60_000 });
const at = (minute: number) => t0 + minute * 60_000;

describe('inbox item state', () => {
  it('given no event, then unseen, unread, not archived', () => {
    assert.deepEqual(foldItem([]), { seenAt: null, readAt: null, archivedAt: null });
  });

  it('given seen twice, then seen at the first time', () => {
    assert.deepEqual(foldItem([e('seen', 5), e('seen', 2)]), { seenAt: at(2), readAt: null, archivedAt: null });
  });

  it('given read without seen, then seen and read at that time', () => {
    assert.deepEqual(foldItem([e('read', 3)]), { seenAt: at(3), readAt: at(3), archivedAt: null });
  });

  it('given read, a retried read, unread, then read again, then read at the first read after the unread', () => {
    assert.deepEqual(foldItem([e('read', 1), e('read', 2), e('unread', 4), e('read', 6), e('read', 9)]), { seenAt: at(1), readAt: at(6), archivedAt: null });
  });

  it('given unread last, then unread, still seen', () => {
    assert.deepEqual(foldItem([e('seen', 1), e('read', 2), e('unread', 3)]), { seenAt: at(1), readAt: null, archivedAt: null });
  });

  it('given read and unread at the same millisecond, then the event ids decide', () => {
    assert.equal(foldItem([e('unread', 2, 'b'), e('read', 2, 'a')]).readAt, null);
    assert.equal(foldItem([e('unread', 2, 'a'), e('read', 2, 'b')]).readAt, at(2));
  });

  it('given archived twice, then archived at the first time, and archiving neither sees nor reads', () => {
    assert.deepEqual(foldItem([e('archived', 7), e('archived', 4)]), { seenAt: null, readAt: null, archivedAt: at(4) });
  });

  it('given any order and duplicates of the same events, then the same state', () => {
    const event = fc.record({ kind: fc.constantFrom(...itemKinds), minute: fc.integer({ min: 0, max: 5 }), n: fc.integer({ min: 0, max: 3 }) }).map((x) => e(x.kind, x.minute, `${x.kind}-${x.minute}-${x.n}`));
    fc.assert(
      fc.property(fc.uniqueArray(event, { selector: (x) => x.eventId, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 5 }), fc.integer(), (events, dupes, seed) => {
        const reference = foldItem(events);
        const copies = [...events, ...dupes.filter(() => events.length > 0).map((i) => events[i % events.length] as ItemEvent)];
        const shuffled = copies.map((x, i) => ({ x, k: Math.sin(seed + i) })).sort((a, b) => a.k - b.k).map(({ x }) => x);
        assert.deepEqual(foldItem(shuffled), reference);
      }),
    );
  });
});
