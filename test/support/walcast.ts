// Starts a real walcast instance (HTTP on port 0) against a test database.
import { signToken } from '../../src/auth/jwt.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import { startWalcast, type RunningWalcast, type WalcastOptions } from '../../src/walcast.js';
import { eventually } from './wait.js';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256!';

export interface TestWalcast extends RunningWalcast {
  readonly config: Config;
  token(tenant: string, sub?: string, ttlSeconds?: number): Promise<string>;
  streamUrl(token: string, query?: Record<string, string>): string;
}

export async function startTestWalcast(
  databaseUrl: string,
  env: Record<string, string> = {},
  options: Partial<Pick<WalcastOptions, 'keepaliveMs' | 'snapshotStallMs'>> = {},
): Promise<TestWalcast> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    WALCAST_JWT_SECRET: TEST_SECRET,
    WALCAST_PORT: '0',
    WALCAST_INSTANCE: 'test',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'silent',
    ...env,
  });
  const running = await startWalcast({ config, databaseUrl, log: createLogger(config.logLevel), host: '127.0.0.1', ...options });
  return Object.assign(running, {
    config,
    token: (tenant: string, sub = 'user-1', ttlSeconds = 3600) => signToken(TEST_SECRET, { tenant, sub, ttlSeconds, tenantClaim: config.tenantClaim }),
    streamUrl: (token: string, query: Record<string, string> = {}) =>
      `${running.url}/v1/stream?${new URLSearchParams({ access_token: token, ...query }).toString()}`,
  });
}

/** Resolves once the instance has caught up with the WAL (what /readyz reports). */
export async function waitUntilReady(walcast: RunningWalcast, timeout = 10_000): Promise<void> {
  await eventually('walcast caught up with the WAL', () => walcast.ready(), timeout);
}
