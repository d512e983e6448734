// Postgres text values → JSON (DESIGN §3), written straight as JSON text: no value goes
// through a JS number or object on the way, so nothing Postgres stored loses a digit
// (an int8 or a jsonb number past 2^53 included), and a row serializes without building
// an object first. Every connection whose text it reads (replication, snapshots) runs
// with replication/text-format's TEXT_FORMAT, which the mapping relies on.
import { parse as parseArray } from 'postgres-array';

/** A JSON document as text. */
export type JsonText = string & { readonly __brand: 'JsonText' };
export type ValueDecoder = (text: string) => JsonText;

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
export type ColumnType = { readonly kind: 'scalar'; readonly oid: number; readonly name?: string } | { readonly kind: 'array'; readonly elementOid: number };

const json = (text: string) => text as JsonText;
const quoted = (text: string) => JSON.stringify(text) as JsonText;

const asString: ValueDecoder = quoted;

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Numbers that JSON cannot carry (NaN, ±Infinity) stay strings, as Postgres spells them. */
const asNumber: ValueDecoder = (text) => {
  if (JSON_NUMBER.test(text)) return json(text);
  const value = Number(text);
  return Number.isFinite(value) ? json(String(value)) : quoted(text);
};

const asBool: ValueDecoder = (text) => json(text === 't' ? 'true' : 'false');

/** Postgres only stores valid JSON in json/jsonb: its text is the value, digit for digit. */
const asJson: ValueDecoder = json;

/** bytea_output=hex: `\x0a0b…` → base64. */
const asBase64: ValueDecoder = (text) => json(`"${Buffer.from(text.slice(2), 'hex').toString('base64')}"`);

/** `2026-11-23 06:00:00.1+00` → `2026-11-23T06:00:00.100000Z`; infinity and BC dates stay as Postgres wrote them. */
const TIMESTAMP = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(\+00)?$/;

const asTimestamp: ValueDecoder = (text) => {
  const match = TIMESTAMP.exec(text);
  if (!match) return quoted(text);
  const fraction = (match[3] ?? '').padEnd(6, '0');
  return json(`"${match[1]}T${match[2]}.${fraction}${match[4] ? 'Z' : ''}"`);
};

/** `12:00:00.5` → `12:00:00.500000`; timetz keeps its offset: `12:00:00.500000+05:30`. */
const TIME = /^(\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?([+-]\d\d(?::\d\d){0,2})?$/;

const asTime: ValueDecoder = (text) => {
  const match = TIME.exec(text);
  return match ? json(`"${match[1]}.${(match[2] ?? '').padEnd(6, '0')}${match[3] ?? ''}"`) : quoted(text);
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

type Nested = (JsonText | null | Nested)[];

function arrayText(items: Nested): JsonText {
  return json(`[${items.map((item) => (item === null ? 'null' : Array.isArray(item) ? arrayText(item) : item)).join(',')}]`);
}

/** The decoder for one column type; built once per relation column, not per value. */
export function decoderFor(type: ColumnType): ValueDecoder {
  if (type.kind === 'scalar') return scalarDecoder(type.oid);
  const decodeElement = scalarDecoder(type.elementOid);
  // Nested braces are further dimensions of the same element type; explicit lower bounds
  // (`[0:1]={…}`) are not carried.
  return (text) => arrayText(parseArray(text, decodeElement) as Nested);
}
