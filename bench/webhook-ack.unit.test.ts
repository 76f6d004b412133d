import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closedLoopRounds } from './webhook-ack.ts';

describe("webhook-ack's closed loop in rounds", () => {
  it('given 30,000 webhooks in 6 rounds, then six rounds of 5,000', () => {
    assert.deepEqual(closedLoopRounds(30_000, 6), [5000, 5000, 5000, 5000, 5000, 5000]);
  });

  it('given a count that does not divide, then the first rounds take one more and the sizes add up to the count', () => {
    assert.deepEqual(closedLoopRounds(10, 4), [3, 3, 2, 2]);
  });

  it('given more rounds than webhooks, or none, then no round is empty and there is at least one', () => {
    assert.deepEqual(closedLoopRounds(3, 5), [1, 1, 1]);
    assert.deepEqual(closedLoopRounds(7, 0), [7]);
  });
});
