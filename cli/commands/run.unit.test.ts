import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectComponents } from './run.ts';

describe('eventline run component selection', () => {
  it('given nothing, then every component; given --only, then those', () => {
    assert.equal(selectComponents(undefined, undefined).length, 12);
    assert.deepEqual(selectComponents('http, processor.dispatch', undefined), ['http', 'processor.dispatch']);
  });

  it('given --except http, then every consumer and not the HTTP server (npm start\'s second process)', () => {
    const wanted = selectComponents(undefined, 'http');
    assert.equal(wanted.includes('http'), false);
    assert.deepEqual([...wanted].sort(), [
      'processor.dispatch',
      'processor.dunning',
      'processor.fraud',
      'processor.rules',
      'processor.stripe-prices',
      'projection.delivery',
      'projection.dunning',
      'projection.fraud',
      'projection.inbox',
      'projection.mrr',
      'projection.preferences',
    ]);
  });

  it('given an unknown name, both lists, or nothing left, then it refuses', () => {
    assert.throws(() => selectComponents('htp', undefined), /unknown component htp/);
    assert.throws(() => selectComponents(undefined, 'projection.mmr'), /unknown component projection\.mmr/);
    assert.throws(() => selectComponents('http', 'http'), /not both/);
    assert.throws(() => selectComponents('', undefined), /no component/);
  });
});
