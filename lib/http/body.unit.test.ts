import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEventlineError } from '../errors.ts';
import { MAX_JSON_DEPTH, jsonDepth, parseJson } from './body.ts';

const nested = (depth: number, open = '{"a":', close = '}') => Buffer.from(`${open.repeat(depth)}1${close.repeat(depth)}`);

describe('JSON bodies', () => {
  it('given JSON text, then its depth counts objects and arrays but not brackets inside strings', () => {
    assert.equal(jsonDepth(Buffer.from('1')), 0);
    assert.equal(jsonDepth(Buffer.from('{"a":[1,{"b":[]}]}')), 4);
    assert.equal(jsonDepth(Buffer.from('{"a":"[[[[{{{{"}')), 1);
    assert.equal(jsonDepth(Buffer.from('{"a":"\\"[[[[","b":[1]}')), 2, 'an escaped quote does not end the string');
    assert.equal(jsonDepth(Buffer.from('{"a":"\\\\","b":[[1]]}')), 3, 'an escaped backslash does');
    assert.equal(jsonDepth(nested(100_000, '[', ']'), MAX_JSON_DEPTH), MAX_JSON_DEPTH + 1, 'stops counting past the limit');
  });

  it(`given a body nested ${MAX_JSON_DEPTH} levels, then it parses; one level deeper is a 400 whatever the brackets`, () => {
    assert.ok(parseJson(nested(MAX_JSON_DEPTH)));
    for (const body of [nested(MAX_JSON_DEPTH + 1), nested(10_000, '[', ']'), nested(10_000)]) {
      assert.throws(
        () => parseJson(body),
        (err: unknown) => isEventlineError(err, 'bad_request') && err.status === 400 && /deeper than 32 levels/.test(err.message),
      );
    }
  });

  it('given bytes that are not UTF-8, then a 400 instead of a silent replacement character', () => {
    const bad = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    assert.throws(() => parseJson(bad), (err: unknown) => isEventlineError(err, 'bad_request') && /not valid UTF-8/.test(err.message));
    assert.deepEqual(parseJson(Buffer.from('{"name":"Zoë"}')), { name: 'Zoë' });
  });

  it('given an empty or malformed body, then a 400 saying so', () => {
    assert.throws(() => parseJson(Buffer.alloc(0)), (err: unknown) => isEventlineError(err, 'bad_request') && /empty/.test(err.message));
    assert.throws(() => parseJson(Buffer.from('{"a":')), (err: unknown) => isEventlineError(err, 'bad_request') && /not valid JSON/.test(err.message));
  });
});
