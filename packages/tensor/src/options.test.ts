import { describe, expect, it } from 'vitest';
import { checkBoolean, checkNumber, checkOneOf, checkOptions, nearestName } from './options.js';

describe('checkOptions', () => {
  const allowed = ['learningRate', 'beta1', 'beta2', 'epsilon'];
  it('passes known keys through and turns undefined into {}', () => {
    expect(checkOptions('AdamW', { beta1: 0.8 }, allowed)).toEqual({ beta1: 0.8 });
    expect(checkOptions('AdamW', undefined, allowed)).toEqual({});
  });
  it('names an unknown key and its nearest valid spelling', () => {
    expect(() => checkOptions('AdamW', { learningrate: 0.5 }, allowed)).toThrow(
      /AdamW: unknown option "learningrate"; did you mean "learningRate"\? Valid options: learningRate, beta1/,
    );
    expect(() => checkOptions('AdamW', { zzzzzzzzzz: 1 }, allowed)).toThrow(/unknown option "zzzzzzzzzz" Valid/);
  });
  it('refuses null, arrays and primitives as the options object', () => {
    for (const bad of [null, [], 3, 'x']) {
      expect(() => checkOptions('AdamW', bad as never, allowed)).toThrow(/AdamW: options must be an object, got/);
    }
  });
  it('only own keys count (a prototype member is not an option)', () => {
    expect(() => checkOptions('f', JSON.parse('{"__proto__": 1}'), allowed)).toThrow(/unknown option "__proto__"/);
  });
});

describe('value checks', () => {
  it('checkNumber names the argument, the value and the constraint', () => {
    expect(checkNumber('lr', 0.1, { min: 0 })).toBe(0.1);
    expect(() => checkNumber('AdamW: epsilon', Infinity, { min: 0 })).toThrow(
      'AdamW: epsilon must be a finite number >= 0, got Infinity',
    );
    expect(() => checkNumber('n', NaN)).toThrow('n must be a finite number, got NaN');
    expect(() => checkNumber('n', '3')).toThrow('n must be a finite number, got "3"');
    expect(() => checkNumber('k', 1.5, { integer: true, min: 1 })).toThrow('k must be an integer >= 1, got 1.5');
    expect(() => checkNumber('b', 1, { min: 0, max: 1, exclusiveMax: true })).toThrow(
      'b must be a finite number >= 0 < 1, got 1',
    );
    expect(checkNumber('t', Infinity, { allowInfinity: true })).toBe(Infinity);
  });
  it('checkBoolean and checkOneOf', () => {
    expect(() => checkBoolean('nesterov', 'yes')).toThrow('nesterov must be true or false, got "yes"');
    expect(checkOneOf('m', 'a', ['a', 'b'] as const)).toBe('a');
    expect(() => checkOneOf('m', 'c', ['a', 'b'])).toThrow('m must be one of "a", "b", got "c"');
  });
  it('nearestName suggests only close names', () => {
    expect(nearestName('blocksize', ['blockSize', 'scale'])).toBe('blockSize');
    expect(nearestName('segment', ['segments', 'k'])).toBe('segments');
    expect(nearestName('qqqqqqqq', ['blockSize'])).toBeUndefined();
  });
});
