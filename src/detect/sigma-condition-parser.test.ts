/** Condition grammar: operators, precedence, `x of` forms and the errors for bad conditions. */
import { describe, expect, it } from 'vitest';
import { type ConditionNode, parseCondition } from './sigma-condition-parser.js';

const ids = ['selection', 'selection_b', 'filter_1', 'filter_2', '_hidden', 'keywords'];
const parse = (text: string) => parseCondition(text, ids, 'detection.condition');
const id = (name: string): ConditionNode => ({ type: 'id', name });

describe('parseCondition', () => {
  it('parses a single identifier', () => {
    expect(parse('selection')).toEqual(id('selection'));
  });

  it('binds not tighter than and, and tighter than or', () => {
    expect(parse('selection or keywords and not filter_1')).toEqual({
      type: 'or',
      items: [
        id('selection'),
        { type: 'and', items: [id('keywords'), { type: 'not', item: id('filter_1') }] },
      ],
    });
  });

  it('honours parentheses', () => {
    expect(parse('(selection or keywords) and not (filter_1 or filter_2)')).toEqual({
      type: 'and',
      items: [
        { type: 'or', items: [id('selection'), id('keywords')] },
        { type: 'not', item: { type: 'or', items: [id('filter_1'), id('filter_2')] } },
      ],
    });
  });

  it('expands 1 of / all of a pattern', () => {
    expect(parse('1 of filter_*')).toEqual({ type: 'or', items: [id('filter_1'), id('filter_2')] });
    expect(parse('all of selection*')).toEqual({ type: 'and', items: [id('selection'), id('selection_b')] });
    expect(parse('all of keyw*')).toEqual(id('keywords'));
  });

  it('expands them without identifiers that start with an underscore', () => {
    const them = ids.filter((n) => !n.startsWith('_')).map(id);
    expect(parse('1 of them')).toEqual({ type: 'or', items: them });
    expect(parse('all of them')).toEqual({ type: 'and', items: them });
  });

  it('combines x of with other operators', () => {
    expect(parse('1 of selection* and not 1 of filter_*')).toEqual({
      type: 'and',
      items: [
        { type: 'or', items: [id('selection'), id('selection_b')] },
        { type: 'not', item: { type: 'or', items: [id('filter_1'), id('filter_2')] } },
      ],
    });
  });

  it.each([
    ['selection and nope', 'detection.condition: unknown search identifier "nope" at column 15'],
    ['1 of nothing*', 'detection.condition: "nothing*" at column 6 matches no search identifier'],
    ['selection and', 'detection.condition: condition ended early; expected a search identifier'],
    ['(selection', 'detection.condition: condition ended early; expected ")"'],
    ['selection keywords', 'detection.condition: unexpected "keywords" at column 11; expected "and", "or"'],
    ['selection && keywords', 'detection.condition: unexpected character "&" at column 11'],
    ['any of selection*', 'detection.condition: "any of" at column 1 is not Sigma; write "1 of"'],
    ['selection*', 'detection.condition: pattern "selection*" at column 1 needs "1 of" or "all of"'],
    ['2 of them', 'detection.condition: unknown search identifier "2" at column 1'],
    ['', 'detection.condition: the condition is empty'],
  ])('rejects %j', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });
});
