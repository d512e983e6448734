// The pure core of filters: the grammar (every operator, grouping, quoting, references,
// every bound), the type check, the comparators on Postgres output text, three-valued
// evaluation, the SQL translation and the equality terms. Against Postgres itself:
// test/integration/filters-differential.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WalcastError } from '../../src/errors.js';
import { checkFilter, FILTER_LIMITS, parseFilter, type FilterColumn, type FilterNode } from '../../src/filters/index.js';
import { kindOf, type ValueKind } from '../../src/filters/column-kinds.js';
import { comparatorFor, equalityKeyFor } from '../../src/filters/compare-text.js';
import type { ResolvedNode } from '../../src/filters/filter-tree.js';
import { boundFilter, combineFilters } from '../../src/filters/resolve-filter.js';
import { filterTexts } from '../support/filter-text.js';

const scalar = (oid: number) => ({ kind: 'scalar', oid }) as const;
const column = (name: string, oid: number, sqlType: string, extra: Partial<FilterColumn> = {}): FilterColumn => ({
  name,
  type: scalar(oid),
  sqlType,
  isEnum: false,
  deterministic: true,
  ...extra,
});

const COLUMNS: FilterColumn[] = [
  column('qty', 23, 'integer'),
  column('big', 20, 'bigint'),
  column('price', 1700, 'numeric'),
  column('ratio', 701, 'double precision'),
  column('done', 16, 'boolean'),
  column('title', 25, 'text'),
  column('code', 1042, 'bpchar'),
  column('due', 1082, 'date'),
  column('mood', 90_001, 'mood', { isEnum: true }),
  column('caseless', 25, 'text', { deterministic: false }),
  column('doc', 3802, 'jsonb'),
  column('tags', 0, 'text[]', { type: { kind: 'array', elementOid: 25 } }),
  column('my.col', 23, 'integer'),
];

function expectInvalid(run: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, String(message)).toBeInstanceOf(WalcastError);
  expect((thrown as WalcastError).code).toBe('INVALID_PARAMETER');
  expect((thrown as WalcastError).message).toMatch(message);
}

const literal = (text: string) => ({ kind: 'literal', text }) as const;

describe('filter grammar', () => {
  it('reads every where= operator, negated or not', () => {
    expect(parseFilter(['qty=gte.10'])).toEqual({ tag: 'compare', column: 'qty', operator: 'gte', operand: literal('10') });
    for (const operator of ['eq', 'neq', 'lt', 'lte', 'gt', 'gte'] as const) {
      expect(parseFilter([`qty=${operator}.1`])).toEqual({ tag: 'compare', column: 'qty', operator, operand: literal('1') });
    }
    expect(parseFilter(['title=not.eq.a.b=c'])).toEqual({
      tag: 'not',
      operand: { tag: 'compare', column: 'title', operator: 'eq', operand: literal('a.b=c') },
    });
    expect(parseFilter(['title=in.(a,"b,c","d\\"e",)'])).toEqual({
      tag: 'in',
      column: 'title',
      list: [literal('a'), literal('b,c'), literal('d"e'), literal('')],
    });
    for (const value of ['null', 'true', 'false', 'unknown'] as const) expect(parseFilter([`done=is.${value}`])).toEqual({ tag: 'is', column: 'done', value });
    expect(parseFilter(['qty=gt.1', 'title=eq.x'])).toMatchObject({ tag: 'and', operands: [{ column: 'qty' }, { column: 'title' }] });
    expect(parseFilter([])).toEqual({ tag: 'and', operands: [] });
  });

  it('takes a top-level value as written, and a quoted one without its quotes', () => {
    expect(parseFilter(['title=eq.a,(b) "c"'])).toMatchObject({ operand: literal('a,(b) "c"') });
    expect(parseFilter(['title=eq.'])).toMatchObject({ operand: literal('') });
    expect(parseFilter(['title=eq."$5"'])).toMatchObject({ operand: literal('$5') });
    expect(parseFilter(['title=eq."a\\\\b"'])).toMatchObject({ operand: literal('a\\b') });
  });

  it('reads the policy grammar: or=/and= groups, nesting, not. on groups and terms', () => {
    const eq = (column: string, text: string): FilterNode => ({ tag: 'compare', column, operator: 'eq', operand: literal(text) });
    expect(parseFilter(['or=(qty.eq.1,title.eq.x)'])).toEqual({ tag: 'or', operands: [eq('qty', '1'), eq('title', 'x')] });
    expect(parseFilter(['and=(qty.eq.1,or(title.eq.x,and(big.eq.2)))'])).toEqual({
      tag: 'and',
      operands: [eq('qty', '1'), { tag: 'or', operands: [eq('title', 'x'), { tag: 'and', operands: [eq('big', '2')] }] }],
    });
    expect(parseFilter(['not.or=(qty.eq.1)'])).toEqual({ tag: 'not', operand: { tag: 'or', operands: [eq('qty', '1')] } });
    expect(parseFilter(['or=(not.and(qty.eq.1),qty.not.eq.2,not.qty.eq.3)'])).toEqual({
      tag: 'or',
      operands: [
        { tag: 'not', operand: { tag: 'and', operands: [eq('qty', '1')] } },
        { tag: 'not', operand: eq('qty', '2') },
        { tag: 'not', operand: eq('qty', '3') },
      ],
    });
    expect(parseFilter(['or=("my.col".eq.1,title.eq."a,b)",title.in.("x",y),done.is.true)'])).toEqual({
      tag: 'or',
      operands: [
        eq('my.col', '1'),
        eq('title', 'a,b)'),
        { tag: 'in', column: 'title', list: [literal('x'), literal('y')] },
        { tag: 'is', column: 'done', value: 'true' },
      ],
    });
    // A column named `or` is a condition, not a group.
    expect(parseFilter(['or=eq.1'])).toEqual(eq('or', '1'));
  });

  it('reads $sub and $claim.NAME as references, and a quoted $ as a literal', () => {
    expect(parseFilter(['or=(owner.eq.$sub,team.in.$claim.teams,shared.is.true,tag.eq."$sub")'], 'policy')).toEqual({
      tag: 'or',
      operands: [
        { tag: 'compare', column: 'owner', operator: 'eq', operand: { kind: 'sub' } },
        { tag: 'in', column: 'team', list: { kind: 'claim', name: 'teams' } },
        { tag: 'is', column: 'shared', value: 'true' },
        { tag: 'compare', column: 'tag', operator: 'eq', operand: literal('$sub') },
      ],
    });
    expect(parseFilter(['team=in.($sub,$claim.https://x.io/team,"$y")'])).toEqual({
      tag: 'in',
      column: 'team',
      list: [{ kind: 'sub' }, { kind: 'claim', name: 'https://x.io/team' }, literal('$y')],
    });
    expect(parseFilter(['owner=eq.$claim.org.id'])).toMatchObject({ operand: { kind: 'claim', name: 'org.id' } });
  });

  it('refuses malformed filters with a message saying what is expected', () => {
    for (const [text, message] of [
      ['qty', /is not column=operator.value, or=\(…\) or and=\(…\)/],
      ['=eq.1', /is not column=operator/],
      ['qty=like.1', /unknown operator in "like.1" \(eq, neq/],
      ['qty=eq', /unknown operator|needs a value/],
      ['qty=in.1,2', /in. takes a list in parentheses/],
      ['qty=in.()', /in.\(…\) takes 1 to 100 values/],
      ['qty=in.("open)', /unterminated quote/],
      ['qty=in.(a,b', /not closed/],
      ['qty=in.(a)b', /unexpected text after the value/],
      ['done=is.maybe', /is. takes null, true, false or unknown/],
      ['title=eq."a"b', /unexpected text after the value/],
      ['title=eq.$foo', /"\$foo" is neither \$sub nor \$claim.NAME; a literal that begins with \$ is written in double quotes/],
      ['title=eq.$claim.', /neither \$sub nor/],
      ['or=(qty.eq.1', /separated by commas and closed by \)/],
      ['or=(qty.eq.1)x', /unexpected text after the closing parenthesis of or=/],
      ['or=()', /expected a condition col.op.value/],
      ['or=(qty)', /is not followed by .operator.value/],
      ['or=(qty.eq.a(b))', /written in double quotes/],
      ['or=(qty.eq.a"b")', /written in double quotes/],
      ['or=(not.not.or(qty.eq.1))', /unknown operator/],
    ] as const) {
      expectInvalid(() => parseFilter([text]), message);
    }
    expectInvalid(() => parseFilter(['title=like.x'], 'policy'), /^policy: unknown operator/);
  });

  it('refuses each bound with a 400 naming it', () => {
    const nested = (depth: number) => `or=(${'and('.repeat(depth - 1)}qty.eq.1${')'.repeat(depth - 1)})`;
    expect(() => parseFilter([nested(FILTER_LIMITS.maxDepth)])).not.toThrow();
    expectInvalid(() => parseFilter([nested(FILTER_LIMITS.maxDepth + 1)]), /groups nest at most 8 deep/);
    expectInvalid(() => parseFilter(['title=eq.' + 'x'.repeat(FILTER_LIMITS.maxLength)]), /at most 8192 characters of filter text/);
    expectInvalid(() => parseFilter(Array.from({ length: 33 }, () => 'title=eq.' + 'x'.repeat(250))), /at most 8192 characters/);
    expectInvalid(() => parseFilter(Array.from({ length: FILTER_LIMITS.maxTerms + 1 }, () => 'qty=is.null')), /at most 64 conditions/);
    const list = (n: number) => `qty=in.(${Array.from({ length: n }, (_, i) => i).join(',')})`;
    expect(() => parseFilter([list(FILTER_LIMITS.maxInValues)])).not.toThrow();
    expectInvalid(() => parseFilter([list(FILTER_LIMITS.maxInValues + 1)]), /in.\(…\) takes at most 100 values/);
    expectInvalid(() => parseFilter([list(100), list(100), list(57)]), /at most 256 values/);
  });

  it('answers any text whatsoever with a filter or a 400, never another exception', () => {
    const token = fc.constantFrom(
      'or=(',
      'and=(',
      'not.',
      'or(',
      'and(',
      'qty',
      'a',
      '.',
      '=',
      'eq',
      'in',
      'is',
      'null',
      '(',
      ')',
      ',',
      '"',
      '\\',
      '$sub',
      '$claim.',
      '$',
      'gt.',
      ' ',
      '😀',
    );
    const grammarish = fc.array(token, { maxLength: 30 }).map((tokens) => tokens.join(''));
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), grammarish), { maxLength: 4 }),
        fc.constantFrom('where' as const, 'policy' as const),
        (texts, label) => {
          try {
            const filter = parseFilter(texts, label);
            checkFilter(filter, COLUMNS, 't', label);
          } catch (error) {
            if (!(error instanceof WalcastError) || error.code !== 'INVALID_PARAMETER') throw error;
            expect(error.message.startsWith(`${label}: `)).toBe(true);
          }
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('reads back what the test printer writes for any tree', () => {
    const operand = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 6 }).map((text) => ({ kind: 'literal', text }) as const),
      fc.constant({ kind: 'sub' } as const),
      fc.constantFrom('teams', 'a.b', 'x-y').map((name) => ({ kind: 'claim', name }) as const),
    );
    const name = fc.constantFrom('qty', 'my.col', 'a b', 'not', 'or', 'x"y');
    const leaf: fc.Arbitrary<FilterNode> = fc.oneof(
      fc.record({ tag: fc.constant('compare' as const), column: name, operator: fc.constantFrom('eq', 'neq', 'lt', 'lte', 'gt', 'gte' as const), operand }),
      fc.record({
        tag: fc.constant('in' as const),
        column: name,
        list: fc.oneof(fc.array(operand, { minLength: 1, maxLength: 3 }), fc.constant({ kind: 'claim', name: 'teams' } as const)),
      }),
      fc.record({ tag: fc.constant('is' as const), column: name, value: fc.constantFrom('null', 'true', 'false', 'unknown' as const) }),
    );
    const { node } = fc.letrec<{ node: FilterNode }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.record({ tag: fc.constantFrom('and' as const, 'or' as const), operands: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
        leaf.map((operand): FilterNode => ({ tag: 'not', operand })),
      ),
    }));
    // Groups of one and groups inside a group of the same kind say the same thing.
    const normal = (tree: FilterNode): FilterNode => {
      if (tree.tag === 'not') return { tag: 'not', operand: normal(tree.operand) };
      if (tree.tag !== 'and' && tree.tag !== 'or') return tree;
      const operands = tree.operands.map(normal).flatMap((operand) => (operand.tag === tree.tag ? operand.operands : [operand]));
      return operands.length === 1 ? operands[0]! : { tag: tree.tag, operands };
    };
    fc.assert(
      fc.property(node, (tree) => {
        expect(normal(parseFilter(filterTexts({ tag: 'and', operands: [tree] })))).toEqual(normal(tree));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('filter type check', () => {
  const check = (texts: string[]) => checkFilter(parseFilter(texts), COLUMNS, 'public.items');

  it('refuses unknown and hidden columns alike, and operators the type cannot take', () => {
    expectInvalid(() => check(['secret=eq.1']), /^where: public.items has no column "secret" that can be filtered$/);
    expectInvalid(() => check(['or=(qty.eq.1,secret.eq.2)']), /no column "secret"/);
    expectInvalid(() => check(['title=gt.m']), /gt needs an ordered type .*; title supports eq, neq, in and is/);
    expectInvalid(() => check(['mood=lt.ok']), /lt needs an ordered type/);
    expectInvalid(() => check(['code=gte.a']), /gte needs an ordered type/);
    expectInvalid(() => check(['doc=eq.{}']), /doc \(jsonb\) cannot be compared; only is.null works on it/);
    expectInvalid(() => check(['tags=in.(a)']), /cannot be compared/);
    expectInvalid(() => check(['caseless=eq.a']), /cannot be compared/);
    expectInvalid(() => check(['qty=is.true']), /is.true needs a boolean column; qty is not/);
    expect(check(['doc=is.null', 'caseless=not.is.null', 'done=is.unknown']).usesReferences).toBe(false);
    expect(check(['or=(qty.eq.1,big.in.$claim.x)']).usesReferences).toBe(true);
  });

  it('decides the kind of each type from the catalog facts', () => {
    const kinds = COLUMNS.map((filterColumn) => [filterColumn.name, kindOf(filterColumn)]);
    expect(Object.fromEntries(kinds)).toEqual({
      qty: 'integer',
      big: 'integer',
      price: 'numeric',
      ratio: 'float',
      done: 'bool',
      title: 'label',
      code: 'bpchar',
      due: 'date',
      mood: 'label',
      caseless: 'opaque',
      doc: 'opaque',
      tags: 'opaque',
      'my.col': 'integer',
    });
    expect(kindOf(column('unknown extension type', 91_234, 'citext'))).toBe('opaque');
  });
});

describe('comparisons on Postgres output text', () => {
  const sorted = (kind: ValueKind, texts: string[]) => {
    const compare = comparatorFor(kind)!;
    for (let i = 0; i < texts.length; i++) {
      for (let j = 0; j < texts.length; j++) {
        expect(Math.sign(compare(texts[i]!, texts[j]!)) || 0, `${texts[i]} vs ${texts[j]}`).toBe(Math.sign(i - j) || 0);
      }
    }
  };

  it('orders each kind as Postgres does, edge values included', () => {
    sorted('integer', ['-9223372036854775808', '-10', '-9', '-1', '0', '1', '9', '10', '9223372036854775807']);
    const huge = `1${'0'.repeat(131_071)}`;
    sorted('numeric', [
      '-Infinity',
      `-${huge}`,
      '-1.5',
      '-1',
      '-0.00001',
      '0',
      '0.0000000000000000001',
      '0.1',
      '1',
      '1.0000000001',
      '2',
      huge,
      'Infinity',
      'NaN',
    ]);
    sorted('float', ['-Infinity', '-1.7976931348623157e+308', '-1', '-5e-324', '0', '5e-324', '1e-45', '1', '1e+300', 'Infinity', 'NaN']);
    sorted('date', [
      '-infinity',
      '4713-01-01 BC',
      '0044-03-15 BC',
      '0044-03-16 BC',
      '0001-12-31 BC',
      '0001-01-01',
      '2020-01-01',
      '9999-12-31',
      '10000-01-01',
      '275760-09-13',
      '300000-01-01',
      '5874897-12-31',
      'infinity',
    ]);
    sorted('timestamp', [
      '-infinity',
      '0044-03-15 12:00:00 BC',
      '0044-03-15 12:00:00.5 BC',
      '2020-01-01 00:00:00',
      '2020-01-01 00:00:00.000001',
      '2020-01-01 00:00:00.1',
      '2020-01-01 00:00:01',
      '294276-12-31 23:59:59.999999',
      'infinity',
    ]);
    sorted('timestamptz', ['0044-03-15 12:00:00+00 BC', '2020-01-01 00:00:00+00', '2020-01-01 00:00:00.5+00', '2020-01-01 00:00:01+00']);
    sorted('time', ['00:00:00', '00:00:00.000001', '12:00:00', '12:00:00.5', '23:59:59.999999', '24:00:00']);
    sorted('bool', ['f', 't']);
    sorted('bytea', ['\\x', '\\x00', '\\x0000', '\\x01', '\\xff']);
  });

  it('agrees with exact arithmetic on random integers and decimals', () => {
    const decimal = fc.tuple(fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }), fc.integer({ min: 0, max: 30 })).map(([units, scale]) => {
      const digits = (units < 0n ? -units : units).toString().padStart(scale + 1, '0');
      const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
      return { text: units < 0n ? `-${text}` : text, units, scale };
    });
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        // Test-only exact reference: a.units / 10^a.scale against b.units / 10^b.scale.
        const left = a.units * 10n ** BigInt(b.scale);
        const right = b.units * 10n ** BigInt(a.scale);
        const expected = left < right ? -1 : left > right ? 1 : 0;
        expect(Math.sign(comparatorFor('numeric')!(a.text, b.text)) || 0).toBe(expected);
        expect(equalityKeyFor('numeric')(a.text) === equalityKeyFor('numeric')(b.text)).toBe(expected === 0);
      }),
      { numRuns: 5_000 },
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (a, b) => {
        expect(Math.sign(comparatorFor('integer')!(String(a), String(b))) || 0).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
  });

  it('reduces equal values to one key: numeric scale, float -0, bpchar padding', () => {
    expect(equalityKeyFor('numeric')('1.100')).toBe('1.1');
    expect(equalityKeyFor('numeric')('100')).toBe('100');
    expect(equalityKeyFor('numeric')('0.000')).toBe('0');
    expect(equalityKeyFor('numeric')('-0.50')).toBe('-0.5');
    expect(equalityKeyFor('float')('-0')).toBe('0');
    expect(equalityKeyFor('bpchar')('ab   ')).toBe('ab');
    expect(equalityKeyFor('bpchar')(' a')).toBe(' a');
  });

  it('says unknown (NaN), never a wrong order, for text that is not the type output', () => {
    expect(comparatorFor('float')!('abc', '1')).toBeNaN();
    expect(comparatorFor('timestamptz')!('2020-01-01 00:00:00+05:30', '2020-01-01 00:00:00+00')).toBeNaN();
    expect(comparatorFor('date')!('20-01-01', '2020-01-01')).toBeNaN();
  });
});

describe('filter evaluation', () => {
  const target = (name: string) => {
    const filterColumn = COLUMNS.find((candidate) => candidate.name === name)!;
    return { column: filterColumn, kind: kindOf(filterColumn) };
  };
  const compare = (name: string, operator: 'eq' | 'neq' | 'lt' | 'gt', value: string | null): ResolvedNode => ({
    tag: 'compare',
    target: target(name),
    operator,
    value,
  });
  const within = (name: string, values: (string | null)[] | null): ResolvedNode => ({ tag: 'in', target: target(name), values });
  const not = (operand: ResolvedNode): ResolvedNode => ({ tag: 'not', operand });
  const matches = (node: ResolvedNode, row: Record<string, string | null | undefined>) => boundFilter(node).matches(row);

  it('follows SQL three-valued logic: NULL compares to NULL, not NULL is NULL, a row matches only on TRUE', () => {
    expect(matches(compare('qty', 'eq', '1'), { qty: null })).toBe(false);
    expect(matches(not(compare('qty', 'eq', '1')), { qty: null })).toBe(false);
    expect(matches(compare('qty', 'neq', null), { qty: '1' })).toBe(false);
    expect(matches(not(compare('qty', 'neq', null)), { qty: '1' })).toBe(false);
    expect(matches({ tag: 'or', operands: [compare('qty', 'eq', null), compare('big', 'eq', '2')] }, { big: '2' })).toBe(true);
    expect(matches(not({ tag: 'and', operands: [compare('qty', 'eq', null), compare('big', 'eq', '2')] }), { big: '3' })).toBe(true);
    expect(matches(not({ tag: 'and', operands: [compare('qty', 'eq', null), compare('big', 'eq', '2')] }), { big: '2' })).toBe(false);
  });

  it('reads in-lists as = any(array): a NULL item leaves a miss unknown, an empty list is false even for NULL', () => {
    expect(matches(within('qty', ['1', null]), { qty: '1' })).toBe(true);
    expect(matches(not(within('qty', ['1', null])), { qty: '2' })).toBe(false);
    expect(matches(not(within('qty', ['1', '1'])), { qty: '2' })).toBe(true);
    expect(matches(not(within('qty', [])), { qty: null })).toBe(true);
    expect(matches(not(within('qty', null)), { qty: '2' })).toBe(false);
    expect(matches(within('price', ['1.10']), { price: '1.1' })).toBe(true);
    expect(matches(within('code', ['ab']), { code: 'ab   ' })).toBe(true);
  });

  it('is unknown only when the answer depends on a column that was not sent', () => {
    const filter = { tag: 'and', operands: [compare('qty', 'gt', '1'), compare('title', 'eq', 'x')] } as const;
    expect(matches(filter, { qty: '5' })).toBe(undefined);
    expect(matches(filter, { qty: '0' })).toBe(false);
    expect(matches(filter, { qty: '5', title: undefined })).toBe(undefined);
    expect(matches({ tag: 'or', operands: [compare('qty', 'gt', '1'), compare('title', 'eq', 'x')] }, { qty: '5' })).toBe(true);
    expect(matches({ tag: 'is', target: target('title'), value: 'null' }, {})).toBe(undefined);
    expect(matches(compare('title', 'eq', null), {})).toBe(false);
    // An inherited property is not a sent column.
    expect(matches({ tag: 'is', target: { ...target('title'), column: { ...target('title').column, name: 'constructor' } }, value: 'null' }, {})).toBe(
      undefined,
    );
  });

  it('never throws on any row, whatever its texts', () => {
    const kinds = COLUMNS.filter((filterColumn) => kindOf(filterColumn) !== 'opaque').map((filterColumn) => filterColumn.name);
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('NaN', '-', '.', 'infinity', ' BC', '-0', '1e5', '\\x'));
    const node = fc.tuple(fc.constantFrom(...kinds), fc.constantFrom('eq', 'neq', 'lt', 'gt' as const), fc.option(text)).map(([name, operator, value]) => {
      const checked = target(name);
      return {
        tag: 'compare',
        target: checked,
        operator: ['lt', 'gt'].includes(operator) && !comparatorFor(checked.kind) ? 'eq' : operator,
        value,
      } as ResolvedNode;
    });
    fc.assert(
      fc.property(
        fc.array(node, { minLength: 1, maxLength: 5 }),
        fc.dictionary(fc.constantFrom(...kinds), fc.option(text, { nil: undefined })),
        (operands, row) => {
          const result = boundFilter({ tag: 'or', operands }).matches(row);
          expect([true, false, undefined]).toContain(result);
        },
      ),
      { numRuns: 3_000 },
    );
  });
});

describe('filter SQL and equality terms', () => {
  const resolved = (texts: string[], values: Record<string, string | null>) => {
    const { root } = checkFilter(parseFilter(texts), COLUMNS, 't');
    const resolve = (node: typeof root): ResolvedNode => {
      switch (node.tag) {
        case 'compare':
          return {
            tag: 'compare',
            target: node.target,
            operator: node.operator,
            value: node.operand.kind === 'literal' ? node.operand.text : (values[node.operand.kind] ?? null),
          };
        case 'in':
          return {
            tag: 'in',
            target: node.target,
            values: Array.isArray(node.list) ? node.list.map((item) => (item.kind === 'literal' ? item.text : null)) : null,
          };
        case 'is':
          return node;
        case 'not':
          return { tag: 'not', operand: resolve(node.operand) };
        default:
          return { tag: node.tag, operands: node.operands.map(resolve) };
      }
    };
    return boundFilter(resolve(root));
  };

  it('renders identifiers quoted and values as parameters cast to the column type', () => {
    const values: unknown[] = [];
    const sql = resolved(['or=(qty.eq.1,not.title.in.(x,"y z"),"my.col".is.null,and(done.is.true,price.gte.$sub))'], { sub: null }).toSql((value) => {
      values.push(value);
      return `$${values.length}`;
    }, 'r');
    expect(sql).toBe('(r."qty" = $1::integer or not (r."title" = any($2::text[])) or r."my.col" is null or (r."done" is true and r."price" >= $3::numeric))');
    expect(values).toEqual(['1', ['x', 'y z'], null]);
    expect(resolved([], {}).toSql(() => '$1')).toBe('true');
  });

  it('combines filters that must all hold (a policy and a where=) into one', () => {
    const both = combineFilters([resolved(['qty=eq.1'], {}), resolved(['or=(title.eq.x,title.eq.y)'], {})]);
    let count = 0;
    expect(both.toSql(() => `$${++count}`)).toBe('(t."qty" = $1::integer and (t."title" = $2::text or t."title" = $3::text))');
    expect(both.matches({ qty: '1', title: 'y' })).toBe(true);
    expect(both.matches({ qty: '1', title: 'z' })).toBe(false);
    expect(both.matches({ qty: '1' })).toBe(undefined);
    expect(both.equalities.map((term) => term.column)).toEqual(['qty']);
  });

  it('lists the equalities every matching row meets, and none from or/not', () => {
    const terms = resolved(['qty=eq.1', 'and=(price.in.(1.10,2),done.is.false)', 'or=(big.eq.1,big.eq.2)', 'title=not.eq.x'], {}).equalities;
    expect(terms.map((term) => [term.column, [...term.keys]])).toEqual([
      ['qty', ['1']],
      ['price', ['1.1', '2']],
      ['done', ['f']],
    ]);
    expect(terms[1]!.keyOf('1.100')).toBe('1.1');
    expect(resolved(['qty=eq.$sub'], {}).equalities.map((term) => term.keys.size)).toEqual([0]);
  });
});
