// Postgres text values → JSON values (DESIGN §3). The replication connection runs with
// DateStyle=ISO and TimeZone=UTC (see replication-stream), which this mapping relies on.
import { parse as parseArray } from 'postgres-array';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type ValueDecoder = (text: string) => JsonValue;

/** Built-in type OIDs (`pg_type.oid`, stable across Postgres versions). */
const OID = {
  bool: 16,
  bytea: 17,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  timetz: 1266,
  jsonb: 3802,
} as const;

/**
 * What a column's values look like once domains are unwrapped: a scalar of a base type,
 * or an array (of any dimension) of one. Resolved from pg_type (sql/type-store.ts), since
 * pgoutput names a domain or an array of enums by an OID only the catalog explains.
 */
export type ColumnType =
  | { readonly kind: 'scalar'; readonly oid: number }
  | { readonly kind: 'array'; readonly elementOid: number };

const asString: ValueDecoder = (text) => text;

/** Numbers that JSON cannot carry (NaN, ±Infinity) stay strings, as Postgres spells them. */
const asNumber: ValueDecoder = (text) => {
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
};

const asBool: ValueDecoder = (text) => text === 't';

const asJson: ValueDecoder = (text) => JSON.parse(text) as JsonValue;

/** bytea_output=hex: `\x0a0b…` → base64. */
const asBase64: ValueDecoder = (text) => Buffer.from(text.slice(2), 'hex').toString('base64');

/** `2026-11-23 06:00:00.1+00` → `2026-11-23T06:00:00.100000Z`; infinity and BC dates stay as Postgres wrote them. */
const TIMESTAMP = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(\+00)?$/;

const asTimestamp: ValueDecoder = (text) => {
  const match = TIMESTAMP.exec(text);
  if (!match) return text;
  const fraction = (match[3] ?? '').padEnd(6, '0');
  return `${match[1]}T${match[2]}.${fraction}${match[4] ? 'Z' : ''}`;
};

/** `12:00:00.5` → `12:00:00.500000`; timetz keeps its offset: `12:00:00.500000+05:30`. */
const TIME = /^(\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?([+-]\d\d(?::\d\d){0,2})?$/;

const asTime: ValueDecoder = (text) => {
  const match = TIME.exec(text);
  return match ? `${match[1]}.${(match[2] ?? '').padEnd(6, '0')}${match[3] ?? ''}` : text;
};

function scalarDecoder(typeOid: number): ValueDecoder {
  switch (typeOid) {
    case OID.int2:
    case OID.int4:
    case OID.oid:
    case OID.float4:
    case OID.float8:
      return asNumber;
    case OID.bool:
      return asBool;
    case OID.json:
    case OID.jsonb:
      return asJson;
    case OID.bytea:
      return asBase64;
    case OID.timestamp:
    case OID.timestamptz:
      return asTimestamp;
    case OID.time:
    case OID.timetz:
      return asTime;
    default:
      // int8, numeric and money stay strings so no precision is lost; date, interval,
      // uuid, inet, text, enums and every other type are their Postgres text form.
      return asString;
  }
}

/** The decoder for one column type; built once per relation column, not per value. */
export function decoderFor(type: ColumnType): ValueDecoder {
  if (type.kind === 'scalar') return scalarDecoder(type.oid);
  const decodeElement = scalarDecoder(type.elementOid);
  // Nested braces are further dimensions of the same element type; explicit lower bounds
  // (`[0:1]={…}`) are not carried.
  return (text) => parseArray(text, decodeElement) as JsonValue;
}
