import { describe, expect, it } from 'vitest';
import { assertCanVerifyTokens, loadConfig, slotNameFor } from '../../src/config/config.js';

describe('configuration', () => {
  it('defaults to embedded mode on port 8080 with DESIGN defaults', () => {
    const config = loadConfig({ WALCAST_INSTANCE: 'Web-1.prod' });
    expect(config).toMatchObject({
      mode: 'embedded',
      port: 8080,
      tenantClaim: 'tenant_id',
      publication: 'walcast',
      presenceTtlSeconds: 30,
      maxTxnChanges: 10_000,
      slotName: 'walcast_web_1_prod',
    });
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ WALCAST_PORT: 'eighty' })).toThrow(/WALCAST_PORT/);
    expect(() => loadConfig({ WALCAST_PUBLICATION: 'Robert"); drop' })).toThrow(/WALCAST_PUBLICATION/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });

  it('requires a secret or JWKS URL to serve outside embedded mode', () => {
    expect(() => assertCanVerifyTokens(loadConfig({ DATABASE_URL: 'postgres://h/db' }))).toThrow(/WALCAST_JWT_SECRET/);
    expect(() => assertCanVerifyTokens(loadConfig({}))).not.toThrow();
    expect(() => loadConfig({ DATABASE_URL: 'postgres://h/db', WALCAST_JWT_SECRET: 'short' })).toThrow(/at least 32/);
    expect(loadConfig({ DATABASE_URL: 'postgres://h/db', WALCAST_JWT_SECRET: 'x'.repeat(32) }).mode).toBe('external');
  });

  it('requires an audience or issuer with a JWKS, naming the variables', () => {
    const jwks = { DATABASE_URL: 'postgres://h/db', WALCAST_JWKS_URL: 'https://auth.example.com/jwks.json' };
    expect(() => loadConfig(jwks)).toThrow(/WALCAST_JWKS_URL needs WALCAST_JWT_AUDIENCE or WALCAST_JWT_ISSUER/);
    expect(loadConfig({ ...jwks, WALCAST_JWT_AUDIENCE: 'walcast' }).jwtAudience).toBe('walcast');
    expect(loadConfig({ ...jwks, WALCAST_JWT_ISSUER: 'https://auth.example.com' }).jwtIssuer).toBe('https://auth.example.com');
  });

  it('listens on loopback in embedded mode and on every interface with DATABASE_URL, unless WALCAST_HOST says otherwise', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ WALCAST_HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ DATABASE_URL: 'postgres://h/db' }).host).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: 'postgres://h/db', WALCAST_HOST: '::1' }).host).toBe('::1');
    expect(() => loadConfig({ WALCAST_HOST: 'a b' })).toThrow(/WALCAST_HOST/);
  });

  it('holds a user to 32 streams unless told otherwise', () => {
    expect(loadConfig({}).maxClientsPerUser).toBe(32);
    expect(loadConfig({ WALCAST_MAX_CLIENTS_PER_USER: '3' }).maxClientsPerUser).toBe(3);
    expect(() => loadConfig({ WALCAST_MAX_CLIENTS_PER_USER: '0' })).toThrow(/WALCAST_MAX_CLIENTS_PER_USER/);
  });

  it('makes slot names Postgres accepts', () => {
    expect(slotNameFor('A b/c')).toBe('walcast_a_b_c');
    expect(slotNameFor('x'.repeat(100))).toHaveLength(63);
  });
});
