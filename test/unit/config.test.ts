import { describe, expect, it } from 'vitest';
import { assertCanVerifyTokens, loadConfig, slotNameFor } from '../../src/config/config.js';

describe('configuration', () => {
  it('defaults to embedded mode on port 8080 with DESIGN defaults', () => {
    const config = loadConfig({ WALCAST_INSTANCE: 'Web-1.prod' });
    expect(config).toMatchObject({ mode: 'embedded', port: 8080, tenantClaim: 'tenant_id', publication: 'walcast', presenceTtlSeconds: 30, maxTxnChanges: 10_000, slotName: 'walcast_web_1_prod' });
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

  it('makes slot names Postgres accepts', () => {
    expect(slotNameFor('A b/c')).toBe('walcast_a_b_c');
    expect(slotNameFor('x'.repeat(100))).toHaveLength(63);
  });
});
