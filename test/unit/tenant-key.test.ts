// Tenant keys (events/tenant-key): an event reaches a stream exactly when Postgres would
// call the row's tenant and the token's claim equal, by the tenant column's type. The
// differential half of this (against Postgres itself) is test/integration/tenant-types.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { claimTenantKeys, presenceTenantKind, tenantKey, tenantKindOf, type TenantKind } from '../../src/events/tenant-key.js';

/** Does an event of a `kind` table whose tenant column printed `output` reach a stream of `claim`? */
const reaches = (kind: TenantKind, output: string, claim: string) => {
  const key = tenantKey(kind, output);
  return key !== undefined && claimTenantKeys(claim).includes(key);
};

describe('tenant kinds', () => {
  it('follow the base type: integers, uuid, char(n), citext by name (its OID differs per database), text for the rest', () => {
    expect([21, 23, 20].map((oid) => tenantKindOf(oid, undefined))).toEqual(['integer', 'integer', 'integer']);
    expect(tenantKindOf(2950, undefined)).toBe('uuid');
    expect(tenantKindOf(1042, undefined)).toBe('bpchar');
    expect(tenantKindOf(16_500, 'citext')).toBe('citext');
    expect(tenantKindOf(25, 'citext')).toBe('text');
    expect([25, 1043, 1700, 16_500].map((oid) => tenantKindOf(oid, 'my_enum'))).toEqual(['text', 'text', 'text', 'text']);
  });
});

describe('tenant keys', () => {
  it('make "007", 7 and " +7 " one tenant under an integer column, and three under a text column', () => {
    for (const claim of ['007', '7', ' +7 ', '+0007']) expect(reaches('integer', '7', claim), claim).toBe(true);
    expect(reaches('integer', '0', '-0')).toBe(true);
    expect(reaches('integer', '-12', '-012')).toBe(true);
    expect(reaches('text', '7', '007')).toBe(false);
    expect(reaches('text', '7', '7')).toBe(true);
    expect(reaches('integer', '70', '7')).toBe(false);
    expect(reaches('integer', '-7', '7')).toBe(false);
  });

  it('refuse what is not an int8 in decimal: other spellings PG16 takes and PG15 refuses, and out-of-range values', () => {
    for (const claim of ['abc', '0x7', '1_000', '7.0', '1e3', '', ' ', '9223372036854775808', '-9223372036854775809', '7 7']) {
      expect(tenantKey('integer', claim), claim).toBeUndefined();
    }
    expect(tenantKey('integer', '9223372036854775807')).toBe('integer:9223372036854775807');
    expect(tenantKey('integer', '-9223372036854775808')).toBe('integer:-9223372036854775808');
  });

  it('fold case under citext (ASCII letters only) and nowhere else', () => {
    expect(reaches('citext', 'ACME', 'acme')).toBe(true);
    expect(reaches('citext', 'acme', 'AcMe')).toBe(true);
    expect(reaches('text', 'ACME', 'acme')).toBe(false);
    expect(reaches('citext', 'É', 'é')).toBe(false);
  });

  it('ignore trailing spaces under char(n), as Postgres compares it', () => {
    expect(reaches('bpchar', 'acme    ', 'acme')).toBe(true);
    expect(reaches('bpchar', 'acme    ', 'acme  ')).toBe(true);
    expect(reaches('bpchar', 'acme    ', ' acme')).toBe(false);
    expect(reaches('text', 'acme ', 'acme')).toBe(false);
  });

  it('read uuids in every spelling Postgres takes, and nothing else', () => {
    const canonical = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
    for (const claim of [
      canonical,
      canonical.toUpperCase(),
      '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
      'a0eebc999c0b4ef8bb6d6bb9bd380a11',
      'a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11',
    ]) {
      expect(reaches('uuid', canonical, claim), claim).toBe(true);
    }
    for (const claim of [
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-',
      '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      'a0e-ebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      ' a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    ]) {
      expect(tenantKey('uuid', claim), claim).toBeUndefined();
    }
  });

  it('of two kinds never meet: a claim that is a tenant under one type is not one under another', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<TenantKind>('text', 'citext', 'bpchar', 'integer', 'uuid'),
        fc.constantFrom<TenantKind>('text', 'citext', 'bpchar', 'integer', 'uuid'),
        fc.string(),
        (a, b, text) => {
          const [keyA, keyB] = [tenantKey(a, text), tenantKey(b, text)];
          if (a !== b && keyA !== undefined) expect(keyA).not.toBe(keyB);
        },
      ),
    );
  });

  it('give an integer row exactly the claims whose number it is', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.nat({ max: 3 }),
        fc.constantFrom('', '+', ' '),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        (value, zeros, prefix, other) => {
          const digits = (value < 0n ? -value : value).toString();
          const claim = `${value < 0n ? '-' : prefix === '+' ? '+' : ''}${'0'.repeat(zeros)}${digits}${prefix === ' ' ? ' ' : ''}`;
          expect(reaches('integer', value.toString(), claim)).toBe(true);
          expect(reaches('integer', other.toString(), claim)).toBe(other === value);
        },
      ),
    );
  });

  it('reach a stream under each kind its claim is a value of', () => {
    expect(claimTenantKeys('acme')).toEqual(['text:acme', 'citext:acme', 'bpchar:acme']);
    expect(claimTenantKeys('007')).toEqual(['text:007', 'citext:007', 'bpchar:007', 'integer:7']);
  });
});

describe('presence tenant kind', () => {
  it("is the tenant columns' kind when they agree, else exact text", () => {
    expect(presenceTenantKind(['integer', 'integer'])).toBe('integer');
    expect(presenceTenantKind(['citext'])).toBe('citext');
    expect(presenceTenantKind(['integer', 'text'])).toBe('text');
    expect(presenceTenantKind([])).toBe('text');
  });
});
