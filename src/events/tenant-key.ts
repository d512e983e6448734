// The tenant a row or a token belongs to, as one string per tenant (DESIGN §5). Postgres
// compares a tenant column by its type: 7 = '007' in an integer column, 'ACME' = 'acme'
// in a citext one. Snapshots and edits let Postgres compare; streams route in memory, so
// they compare these keys, which follow the same rules. Pure.
//
//   event:  tenant column's kind + its Postgres text output ─► tenantKey ─┐
//                                                                         ├─ equal: same tenant
//   stream: the token's claim ─► claimTenantKeys (one per kind) ──────────┘
//
// A key starts with its kind, so keys of two kinds never meet: under an integer column
// '007' and '7' are one tenant, under a text column they are two, and a stream of both
// tables gets each table's rows by that table's rule.

export type TenantKind = 'text' | 'citext' | 'bpchar' | 'integer' | 'uuid';
export type TenantKey = string & { readonly __brand: 'TenantKey' };

export const TENANT_KINDS: readonly TenantKind[] = ['text', 'citext', 'bpchar', 'integer', 'uuid'];

/** Built-in type OIDs (`pg_type.oid`, the same in every database). */
const OID = { int2: 21, int4: 23, int8: 20, bpchar: 1042, uuid: 2950 } as const;
/** OIDs below this are built in; an extension's types (citext) get one above it. */
const FIRST_NORMAL_OBJECT_ID = 16_384;

/**
 * The kind of a tenant column, from its base type (domains unwrapped): the base type's
 * OID, and its `pg_type.typname` (only an extension type such as citext needs the name;
 * its OID differs from database to database). Any other type compares as exact text.
 */
export function tenantKindOf(baseTypeOid: number, baseTypeName: string | undefined): TenantKind {
  switch (baseTypeOid) {
    case OID.int2:
    case OID.int4:
    case OID.int8:
      return 'integer';
    case OID.uuid:
      return 'uuid';
    case OID.bpchar:
      return 'bpchar';
    default:
      return baseTypeOid >= FIRST_NORMAL_OBJECT_ID && baseTypeName === 'citext' ? 'citext' : 'text';
  }
}

/** What int2/int4/int8 input takes in every Postgres version: spaces, a sign, decimal digits. */
const DECIMAL = /^ *([+-]?)0*(\d+) *$/;
const INT8_MAX = '9223372036854775807';
const INT8_MIN_MAGNITUDE = '9223372036854775808';

/**
 * `' +007 '` → `7`. Undefined for what is not an int8 in decimal: PG16's `0x1F` and `1_000`
 * (which PG15 refuses) are refused on every version, so every path answers alike.
 */
function canonicalInteger(text: string): string | undefined {
  const match = DECIMAL.exec(text);
  if (!match) return undefined;
  const negative = match[1] === '-';
  const digits = match[2]!;
  const limit = negative ? INT8_MIN_MAGNITUDE : INT8_MAX;
  if (digits.length > limit.length || (digits.length === limit.length && digits > limit)) return undefined;
  return negative && digits !== '0' ? `-${digits}` : digits;
}

/** uuid input (`string_to_uuid`): 32 hex digits, a `-` allowed after any group of four but the last, optionally in braces. */
const UUID = /^(?:\{(?:[0-9a-f]{4}-?){7}[0-9a-f]{4}\}|(?:[0-9a-f]{4}-?){7}[0-9a-f]{4})$/i;

function canonicalUuid(text: string): string | undefined {
  if (!UUID.test(text)) return undefined;
  const hex = text.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * citext compares `lower()` of both sides. Only ASCII letters are folded here: in a
 * database whose locale folds more ('É' = 'é'), such tenants then miss each other's
 * events rather than ever receiving another tenant's.
 */
const asciiLower = (text: string) => text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());

/**
 * The key of `text` as a value of a tenant column of `kind`; undefined when it is not one
 * (`abc` for an integer column): such a claim matches no row, and edits refuse it.
 * Event side: `text` is Postgres's output of the column (a char(n) padded with spaces).
 */
export function tenantKey(kind: TenantKind, text: string): TenantKey | undefined {
  let canonical: string | undefined;
  switch (kind) {
    case 'text':
      canonical = text;
      break;
    case 'citext':
      canonical = asciiLower(text);
      break;
    case 'bpchar':
      // char(n) ignores trailing spaces when it compares.
      canonical = text.replace(/ +$/, '');
      break;
    case 'integer':
      canonical = canonicalInteger(text);
      break;
    case 'uuid':
      canonical = canonicalUuid(text);
      break;
    default: {
      const unknown: never = kind;
      throw new TypeError(`unknown tenant kind ${String(unknown)}`);
    }
  }
  return canonical === undefined ? undefined : (`${kind}:${canonical}` as TenantKey);
}

/**
 * Every key a token's tenant claim has, one per kind it is a value of: a stream is
 * reachable under each, and an event, under the one key of its table's kind, reaches it
 * exactly when Postgres would call the claim and the row's tenant equal.
 */
export function claimTenantKeys(claim: string): readonly TenantKey[] {
  const keys: TenantKey[] = [];
  for (const kind of TENANT_KINDS) {
    const key = tenantKey(kind, claim);
    if (key !== undefined) keys.push(key);
  }
  return keys;
}

/**
 * The kind presence rooms compare tenants by (a room belongs to no table): the kind of the
 * exposed tables' tenant columns when they all agree; else exact text, which never joins
 * two claims that any tenant column would keep apart.
 */
export function presenceTenantKind(kinds: Iterable<TenantKind>): TenantKind {
  const distinct = new Set(kinds);
  return distinct.size === 1 ? [...distinct][0]! : 'text';
}
