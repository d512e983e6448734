// Tenant keys against Postgres itself (differential, fast-check, seed printed): two keys are
// equal exactly when Postgres calls the values equal under the tenant column's type, and a
// claim with a key is one Postgres takes. This is what lets streams route by key in memory
// and still answer as snapshots and edits do, where Postgres compares.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantKey, type TenantKind } from '../../src/events/tenant-key.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('tenant_key');
  await db.sql.query('create extension if not exists citext');
});

afterAll(async () => {
  await db?.drop();
});

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
const RUNS = 300;

/** Postgres's answer to `row = claim` under `type`, with the row as the column holds it; undefined when the claim is no value of the type. */
async function postgresEquals(type: string, row: string, claim: string): Promise<{ equal: boolean; output: string } | undefined> {
  try {
    const { rows } = await db.sql.query<{ equal: boolean; output: string }>(`select $1::${type} = $2::${type} as equal, $1::${type}::text as output`, [
      row,
      claim,
    ]);
    return rows[0]!;
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('22')) return undefined;
    throw error;
  }
}

/**
 * For a row value and a claim: the claim has a key only if Postgres takes it, and the row's
 * key (from its text output) equals the claim's exactly when Postgres calls them equal.
 */
async function agrees(kind: TenantKind, type: string, row: string, claim: string): Promise<void> {
  const answer = await postgresEquals(type, row, claim);
  const claimKey = tenantKey(kind, claim);
  if (answer === undefined) {
    expect(claimKey, `${JSON.stringify(claim)} is no ${type}, yet has a key`).toBeUndefined();
    return;
  }
  const rowKey = tenantKey(kind, answer.output);
  expect(rowKey, `the ${type} output ${JSON.stringify(answer.output)} has no key`).toBeDefined();
  // A claim Postgres takes but walcast refuses (PG16's 0x1F, 1_000) is refused on every path: never a leak.
  if (claimKey === undefined) return;
  expect(rowKey === claimKey, `${type}: ${JSON.stringify(row)} = ${JSON.stringify(claim)} is ${answer.equal} in Postgres`).toBe(answer.equal);
}

const fromChars = (chars: string, maxLength: number) => fc.array(fc.constantFrom(...chars), { maxLength }).map((parts) => parts.join(''));

describe('tenant keys agree with Postgres', () => {
  it(`for integer columns (seed ${seed})`, async () => {
    const int8 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    const spelled = fc.tuple(int8, fc.constantFrom('', ' ', '+', '  +'), fc.nat({ max: 3 }), fc.constantFrom('', ' ')).map(([value, prefix, zeros, suffix]) => {
      const digits = (value < 0n ? -value : value).toString();
      return `${value < 0n ? prefix.replace('+', '') + '-' : prefix}${'0'.repeat(zeros)}${digits}${suffix}`;
    });
    const claim = fc.oneof(spelled, int8.map(String), fromChars('0123456789 +-_x.e', 22));
    await fc.assert(
      fc.asyncProperty(fc.oneof(int8, fc.bigInt({ min: -40n, max: 40n })), claim, async (row, text) => {
        await agrees('integer', 'int8', row.toString(), text);
      }),
      { seed, numRuns: RUNS },
    );
    // Each width answers alike: a claim out of an int2's range is no value of it, and no int2 row has its key.
    await agrees('integer', 'int2', '7', '007');
    expect(await postgresEquals('int2', '7', '70000')).toBeUndefined();
  });

  it(`for uuid columns (seed ${seed})`, async () => {
    const hex = fc.array(fc.constantFrom(...'0123456789abcdef'), { minLength: 32, maxLength: 32 }).map((digits) => digits.join(''));
    const spelled = fc
      .tuple(hex, fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }), fc.boolean(), fc.boolean())
      .map(([digits, hyphens, braces, upper]) => {
        let text = '';
        for (let group = 0; group < 8; group++) text += digits.slice(group * 4, group * 4 + 4) + (group < 7 && hyphens[group] ? '-' : '');
        text = upper ? text.toUpperCase() : text.toLowerCase();
        return braces ? `{${text}}` : text;
      });
    const claim = fc.oneof(spelled, fromChars('0123456789abcdef-{} ', 40));
    await fc.assert(
      fc.asyncProperty(spelled, claim, async (row, text) => {
        await agrees('uuid', 'uuid', row, text);
        await agrees('uuid', 'uuid', row, row.toUpperCase());
      }),
      { seed, numRuns: RUNS },
    );
  });

  it(`for citext columns (seed ${seed})`, async () => {
    const ascii = fromChars('aAbBzZ09 -_.', 6);
    // Half the claims are the row in other letter cases: equal under citext, not under text.
    const recased = (row: string) =>
      fc
        .array(fc.boolean(), { minLength: row.length, maxLength: row.length })
        .map((upper) => [...row].map((char, index) => (upper[index] ? char.toUpperCase() : char.toLowerCase())).join(''));
    await fc.assert(
      fc.asyncProperty(
        ascii.chain((row) => fc.tuple(fc.constant(row), fc.oneof(ascii, recased(row)))),
        async ([row, text]) => {
          await agrees('citext', 'citext', row, text);
        },
      ),
      { seed, numRuns: RUNS },
    );
    // Beyond ASCII the database's locale decides; a key never joins what Postgres keeps apart.
    for (const [row, text] of [
      ['É', 'é'],
      ['straße', 'STRASSE'],
      ['İ', 'i'],
      ['ǅ', 'ǆ'],
    ] as const) {
      const answer = (await postgresEquals('citext', row, text))!;
      if (tenantKey('citext', row) === tenantKey('citext', text)) expect(answer.equal, `${row} = ${text}`).toBe(true);
    }
  });

  it(`for char(n) columns, trailing spaces and all (seed ${seed})`, async () => {
    const text = fromChars('ab ', 8);
    await fc.assert(
      fc.asyncProperty(text, text, async (row, claim) => {
        await agrees('bpchar', 'char(8)', row, claim);
      }),
      { seed, numRuns: RUNS },
    );
  });
});
