// Postgres text values → JSON values (DESIGN §3). The replication connection runs with
// DateStyle=ISO and TimeZone=UTC (see replication-stream), which this mapping relies on.
import { parse as parseArray } from 'postgres-array';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type ValueDecoder = (text: string) => JsonValue;

/** Built-in type OIDs (`pg_type.oid`, stable across Postgres versions). */
const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  money: 790,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  jsonb: 3802,
} as const;

/** Array type OID → element type OID, for the element types that are not plain strings. */
const ARRAY_ELEMENT: Record<number, number> = {
  1000: OID.bool,
  1001: OID.bytea,
  1016: OID.int8,
  1005: OID.int2,
  1007: OID.int4,
  1028: OID.oid,
  199: OID.json,
  1021: OID.float4,
  1022: OID.float8,
  791: OID.money,
  1182: OID.date,
  1183: OID.time,
  1115: OID.timestamp,
  1185: OID.timestamptz,
  1231: OID.numeric,
  3807: OID.jsonb,
  // Arrays of text-like types decode element-wise as strings.
  1009: 25,
  1015: 1043,
  1014: 1042,
  2951: 2950,
  1270: 1266,
  1187: 1186,
  1041: 869,
  651: 650,
};

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

const TIME = /^(\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?$/;

const asTime: ValueDecoder = (text) => {
  const match = TIME.exec(text);
  return match ? `${match[1]}.${(match[2] ?? '').padEnd(6, '0')}` : text;
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
      return asTime;
    default:
      // int8, numeric and money stay strings so no precision is lost; date, uuid, text,
      // enums and every other type are their Postgres text form.
      return asString;
  }
}

/** The decoder for one column type; computed once per relation column, not per value. */
export function decoderFor(typeOid: number): ValueDecoder {
  const elementOid = ARRAY_ELEMENT[typeOid];
  if (elementOid === undefined) return scalarDecoder(typeOid);
  const element = scalarDecoder(elementOid);
  return (text) => parseArray(text, element) as JsonValue;
}
