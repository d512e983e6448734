// Postgres output text (under events/values TEXT_FORMAT) compared as Postgres compares the
// values, for each ordered ValueKind, and reduced to an equality key for every comparable
// one. Pure and total: no BigInt, no Date, no allocation beyond the text itself, O(length).
// A text no Postgres output of the type looks like compares as NaN (unknown), never wrong.
import type { ValueKind } from './column-kinds.js';

const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;

// ── integers and numerics ────────────────────────────────────────────────────────────

/** int2/int4/int8/oid text: `-?[0-9]+`, no leading zeros, no `-0`. */
function compareIntegers(a: string, b: string): number {
  const negative = a.charCodeAt(0) === MINUS;
  if (negative !== (b.charCodeAt(0) === MINUS)) return negative ? -1 : 1;
  let order = a.length === b.length ? (a < b ? -1 : a > b ? 1 : 0) : a.length < b.length ? -1 : 1;
  if (negative) order = -order;
  return order;
}

/** Postgres orders numeric -Infinity < finite < Infinity < NaN, and NaN equals itself. */
function numericRank(text: string): number {
  switch (text) {
    case '-Infinity':
      return 0;
    case 'Infinity':
      return 2;
    case 'NaN':
      return 3;
    default:
      return 1;
  }
}

/** No digit but zeros: `0`, `0.000` (numeric prints no `-0`, but reads it as zero). */
function isZero(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > ZERO && code <= ZERO + 9) return false;
  }
  return true;
}

/** |a| against |b| for plain decimals from `start`: integer digits by count then value, then fraction digits with implied trailing zeros. */
function compareMagnitudes(a: string, startA: number, b: string, startB: number): number {
  let i = startA;
  let j = startB;
  while (a.charCodeAt(i) === ZERO) i++;
  while (b.charCodeAt(j) === ZERO) j++;
  let dotA = a.indexOf('.', i);
  let dotB = b.indexOf('.', j);
  if (dotA < 0) dotA = a.length;
  if (dotB < 0) dotB = b.length;
  if (dotA - i !== dotB - j) return dotA - i < dotB - j ? -1 : 1;
  for (; i < dotA; i++, j++) {
    const difference = a.charCodeAt(i) - b.charCodeAt(j);
    if (difference !== 0) return difference < 0 ? -1 : 1;
  }
  for (i = dotA + 1, j = dotB + 1; i < a.length || j < b.length; i++, j++) {
    const digitA = i < a.length ? a.charCodeAt(i) : ZERO;
    const digitB = j < b.length ? b.charCodeAt(j) : ZERO;
    if (digitA !== digitB) return digitA < digitB ? -1 : 1;
  }
  return 0;
}

/** numeric text: `-?[0-9]+(\.[0-9]+)?`, never an exponent, up to 131072 + 16383 digits; or NaN, ±Infinity. */
function compareNumerics(a: string, b: string): number {
  const rankA = numericRank(a);
  const rankB = numericRank(b);
  if (rankA !== rankB) return rankA < rankB ? -1 : 1;
  if (rankA !== 1) return 0;
  const signA = isZero(a) ? 0 : a.charCodeAt(0) === MINUS ? -1 : 1;
  const signB = isZero(b) ? 0 : b.charCodeAt(0) === MINUS ? -1 : 1;
  if (signA !== signB) return signA < signB ? -1 : 1;
  if (signA === 0) return 0;
  const order = compareMagnitudes(a, signA < 0 ? 1 : 0, b, signB < 0 ? 1 : 0);
  return signA < 0 ? -order : order;
}

// ── floats ───────────────────────────────────────────────────────────────────────────

/**
 * float4/float8 text with extra_float_digits=1 is the shortest text that reads back
 * exactly, so `Number` gives the value (a float4's text is a decimal no other float4
 * reads as, and doubles are dense enough to keep them apart and in order). Postgres
 * orders NaN above everything and equal to itself; -0 equals 0.
 */
function compareFloats(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  const nanX = x !== x;
  const nanY = y !== y;
  if (nanX || nanY) {
    if ((nanX && a !== 'NaN') || (nanY && b !== 'NaN')) return Number.NaN;
    return nanX === nanY ? 0 : nanX ? 1 : -1;
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

// ── dates and timestamps ─────────────────────────────────────────────────────────────

/** -infinity < BC < AD < infinity. */
function instantRank(text: string): number {
  if (text === 'infinity') return 3;
  if (text === '-infinity') return 0;
  return text.endsWith(' BC') ? 1 : 2;
}

/**
 * DateStyle=ISO text: `YYYY-MM-DD[ HH:MM:SS[.ffffff]][+00][ BC]`, the year 4 digits or
 * more (`300000-01-01`, `5874897-12-31`), fractions without trailing zeros. Within an era
 * and a year, the rest of the text sorts as the instant does; BC years run backwards.
 * With TimeZone=UTC every timestamptz ends in `+00`: another offset is not canonical.
 */
function compareInstants(a: string, b: string, zoned: boolean): number {
  const rank = instantRank(a);
  const rankB = instantRank(b);
  if (rank !== rankB) return rank < rankB ? -1 : 1;
  if (rank === 0 || rank === 3) return 0;
  const endA = rank === 1 ? a.length - 3 : a.length;
  const endB = rank === 1 ? b.length - 3 : b.length;
  if (zoned && !(a.startsWith('+00', endA - 3) && b.startsWith('+00', endB - 3))) return Number.NaN;
  const yearA = a.indexOf('-');
  const yearB = b.indexOf('-');
  if (yearA < 4 || yearB < 4) return Number.NaN;
  let order = yearA === yearB ? 0 : yearA < yearB ? -1 : 1;
  for (let i = 0; order === 0 && i < yearA; i++) {
    const difference = a.charCodeAt(i) - b.charCodeAt(i);
    if (difference !== 0) order = difference < 0 ? -1 : 1;
  }
  if (order !== 0) return rank === 1 ? -order : order;
  for (let i = yearA; i < endA && i < endB; i++) {
    const difference = a.charCodeAt(i) - b.charCodeAt(i);
    if (difference !== 0) return difference < 0 ? -1 : 1;
  }
  return endA === endB ? 0 : endA < endB ? -1 : 1;
}

function compareTexts(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A comparator for an ordered kind: negative, zero, positive, or NaN for a text that is not the type's output. */
export type TextComparator = (a: string, b: string) => number;

export function comparatorFor(kind: ValueKind): TextComparator | undefined {
  switch (kind) {
    case 'integer':
      return compareIntegers;
    case 'numeric':
      return compareNumerics;
    case 'float':
      return compareFloats;
    case 'date':
    case 'timestamp':
      return (a, b) => compareInstants(a, b, false);
    case 'timestamptz':
      return (a, b) => compareInstants(a, b, true);
    case 'bool':
    case 'time':
    case 'uuid':
    case 'bytea':
      return compareTexts;
    case 'label':
    case 'bpchar':
    case 'opaque':
      return undefined;
  }
}

// ── equality keys ────────────────────────────────────────────────────────────────────

/** `1.100` → `1.1`, `0.000` → `0`: numeric `=` ignores the scale. */
function numericKey(text: string): string {
  if (text.indexOf('.') < 0) return text;
  if (isZero(text)) return '0';
  let end = text.length;
  while (text.charCodeAt(end - 1) === ZERO) end--;
  if (text.charCodeAt(end - 1) === DOT) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** `'ab   '::char(5) = 'ab'::bpchar`: bpchar ignores trailing blanks. */
function bpcharKey(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x20) end--;
  return end === text.length ? text : text.slice(0, end);
}

const identity = (text: string) => text;

/**
 * Two output texts of a comparable kind are `=` in Postgres exactly when their keys are
 * equal: each value has one output text except for numeric's scale, float's -0 and
 * bpchar's padding.
 */
export function equalityKeyFor(kind: ValueKind): (text: string) => string {
  switch (kind) {
    case 'numeric':
      return numericKey;
    case 'float':
      return (text) => (text === '-0' ? '0' : text);
    case 'bpchar':
      return bpcharKey;
    default:
      return identity;
  }
}
