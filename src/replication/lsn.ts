// Log sequence numbers: parsed once into bigints so they compare and subtract exactly.

/** A WAL position. Postgres spells it `X/Y` (two hex halves of a 64-bit integer). */
export type Lsn = bigint & { readonly __brand: 'Lsn' };

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Accepts both spellings that reach us: `0/16B3748` and `00000000/016B3748`. */
export function parseLsn(text: string): Lsn {
  const match = LSN_TEXT.exec(text);
  if (!match) throw new RangeError(`not an LSN: ${JSON.stringify(text)}`);
  return ((BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)) as Lsn;
}

export function lsnFromBigInt(value: bigint): Lsn {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new RangeError(`LSN out of range: ${value}`);
  return value as Lsn;
}

/** Postgres's own spelling, e.g. `0/16B3748`. */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

export const ZERO_LSN = 0n as Lsn;

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}

export function minLsn(a: Lsn, b: Lsn): Lsn {
  return a < b ? a : b;
}
