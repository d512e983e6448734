// Environment variables → a validated, frozen Config. A bad value stops the process
// with a message that names the variable.
import { hostname } from 'node:os';
import { z } from 'zod';
import { WalcastError } from '../errors.js';

const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case Postgres identifier ([a-z_][a-z0-9_]*, at most 63 characters)');

const positiveInt = z.coerce.number().int().positive();

const Env = z
  .object({
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    WALCAST_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    WALCAST_HOST: z
      .string()
      .regex(/^[0-9A-Za-z.:-]{1,253}$/, 'must be an address to listen on, like 127.0.0.1, 0.0.0.0 or ::')
      .optional(),
    WALCAST_JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 key)').optional(),
    WALCAST_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
    WALCAST_JWT_AUDIENCE: z.string().min(1).optional(),
    WALCAST_JWT_ISSUER: z.string().min(1).optional(),
    WALCAST_TENANT_CLAIM: z.string().min(1).default('tenant_id'),
    WALCAST_CORS_ORIGINS: z
      .string()
      .regex(/^(\*|https?:\/\/[^\s,]+(,https?:\/\/[^\s,]+)*)$/, 'must be * or a comma-separated list of origins like https://app.example.com')
      .optional(),
    WALCAST_MAX_CLIENTS: positiveInt.default(20_000),
    WALCAST_MAX_CLIENTS_PER_TENANT: positiveInt.default(2_000),
    WALCAST_MAX_SNAPSHOTS_PER_TENANT: positiveInt.default(4),
    WALCAST_MAX_CLIENTS_PER_USER: positiveInt.default(32),
    WALCAST_PUBLICATION: identifier.default('walcast'),
    WALCAST_INSTANCE: z.string().min(1).max(200).optional(),
    WALCAST_PRESENCE_TTL: positiveInt.default(30),
    WALCAST_PRESENCE_RATE: positiveInt.default(120),
    WALCAST_EDIT_RATE: positiveInt.default(600),
    WALCAST_MAX_TXN_CHANGES: positiveInt.max(16_777_215, 'must be at most 16777215 (event positions have six hex digits)').default(10_000),
    WALCAST_RETAIN_EVENTS: positiveInt.default(100_000),
    WALCAST_RETAIN_BYTES: positiveInt.default(64 * 1024 * 1024),
    WALCAST_RETAIN_SECONDS: positiveInt.default(3_600),
    WALCAST_RETAIN_WAL_BYTES: positiveInt.default(1024 * 1024 * 1024),
    WALCAST_CLIENT_QUEUE_BYTES: positiveInt.default(8 * 1024 * 1024),
    WALCAST_DATA_DIR: z.string().min(1).default('.walcast'),
    WALCAST_SLOT_ORPHAN_AFTER: positiveInt.default(900),
    WALCAST_TLS_CERT: z.string().min(1).optional(),
    WALCAST_TLS_KEY: z.string().min(1).optional(),
    WALCAST_DEMO: z.enum(['true', 'false']).default('false'),
    WALCAST_MIGRATE: z.enum(['true', 'false']).default('true'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  // A key set is often shared by every application of an identity provider: without an
  // audience or issuer to check, another application's tokens would be accepted here.
  .refine((env) => !env.WALCAST_JWKS_URL || env.WALCAST_JWT_AUDIENCE || env.WALCAST_JWT_ISSUER, {
    path: ['WALCAST_JWKS_URL'],
    message: "needs WALCAST_JWT_AUDIENCE or WALCAST_JWT_ISSUER (or both): a shared key set must not let other applications' tokens in",
  });

/** Every variable walcast reads (docs/operators.md's table lists each). */
export const SETTING_NAMES: readonly string[] = Object.keys(Env.shape);

export type Mode = 'embedded' | 'external';

export interface Config {
  readonly mode: Mode;
  readonly databaseUrl: string | undefined;
  readonly port: number;
  /**
   * The address to listen on; undefined: every interface. Embedded mode defaults to
   * loopback, so its dev token endpoint and `CORS: *` never reach a network by accident.
   */
  readonly host: string | undefined;
  readonly jwtSecret: string | undefined;
  readonly jwksUrl: string | undefined;
  readonly jwtAudience: string | undefined;
  readonly jwtIssuer: string | undefined;
  readonly tenantClaim: string;
  /** Origins allowed to call walcast from a browser; `['*']` for any. Embedded mode: any. */
  readonly corsOrigins: readonly string[];
  readonly maxClients: number;
  readonly maxClientsPerTenant: number;
  /** Snapshot reads one tenant may run at once on an instance. */
  readonly maxSnapshotsPerTenant: number;
  /** Open streams one `sub` of a tenant may hold on an instance. */
  readonly maxClientsPerUser: number;
  readonly publication: string;
  readonly instance: string;
  readonly slotName: string;
  readonly presenceTtlSeconds: number;
  /** Heartbeats and edits a user may send a minute (per instance). */
  readonly presenceRatePerMinute: number;
  readonly editRatePerMinute: number;
  readonly maxTxnChanges: number;
  readonly retainEvents: number;
  readonly retainBytes: number;
  readonly retainSeconds: number;
  readonly retainWalBytes: number;
  /** How far behind (bytes of events not yet sent) a stream may fall before it is cut off. */
  readonly clientQueueBytes: number;
  readonly dataDir: string;
  /** Seconds after which a departed instance's slot is dropped (by one live instance). */
  readonly slotOrphanAfterSeconds: number;
  /** PEM files: with both, walcast serves HTTPS with HTTP/2 (and HTTP/1.1 for clients without it). */
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** The demo page and its token endpoint with DATABASE_URL (docker compose); always on when embedded. */
  readonly demo: boolean;
  /** Apply sql/ at start (false: install nothing; a DBA applies sql/ as the schema's owner). */
  readonly migrate: boolean;
  readonly logLevel: string;
}

/** `walcast_<instance>`: slot names allow only `[a-z0-9_]` and 63 characters. */
export function slotNameFor(instance: string): string {
  return `walcast_${instance.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

/**
 * Serving needs a way to verify tokens: a secret or a JWKS URL, except in embedded mode,
 * which has a dev secret. (migrate and doctor need neither.)
 */
export function assertCanVerifyTokens(config: Config): void {
  if (config.databaseUrl && !config.jwtSecret && !config.jwksUrl) {
    throw new WalcastError(
      'INVALID_CONFIG',
      'invalid configuration: WALCAST_JWT_SECRET is required with DATABASE_URL (or set WALCAST_JWKS_URL); the dev secret exists only in embedded mode',
    );
  }
  if (config.databaseUrl && config.demo && !config.jwtSecret) {
    throw new WalcastError('INVALID_CONFIG', 'invalid configuration: WALCAST_DEMO=true needs WALCAST_JWT_SECRET (the demo signs its tokens with it)');
  }
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const blankAsUnset = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = Env.safeParse(blankAsUnset);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
    throw new WalcastError('INVALID_CONFIG', `invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  if ((e.WALCAST_TLS_CERT === undefined) !== (e.WALCAST_TLS_KEY === undefined)) {
    throw new WalcastError(
      'INVALID_CONFIG',
      'invalid configuration: WALCAST_TLS_CERT and WALCAST_TLS_KEY go together (PEM files of the certificate and its key)',
    );
  }
  const instance = e.WALCAST_INSTANCE ?? hostname();
  return Object.freeze({
    mode: e.DATABASE_URL ? 'external' : 'embedded',
    databaseUrl: e.DATABASE_URL,
    port: e.WALCAST_PORT,
    host: e.WALCAST_HOST ?? (e.DATABASE_URL ? undefined : '127.0.0.1'),
    jwtSecret: e.WALCAST_JWT_SECRET,
    jwksUrl: e.WALCAST_JWKS_URL,
    jwtAudience: e.WALCAST_JWT_AUDIENCE,
    jwtIssuer: e.WALCAST_JWT_ISSUER,
    tenantClaim: e.WALCAST_TENANT_CLAIM,
    corsOrigins: e.WALCAST_CORS_ORIGINS?.split(',') ?? (e.DATABASE_URL ? [] : ['*']),
    maxClients: e.WALCAST_MAX_CLIENTS,
    maxClientsPerTenant: e.WALCAST_MAX_CLIENTS_PER_TENANT,
    maxSnapshotsPerTenant: e.WALCAST_MAX_SNAPSHOTS_PER_TENANT,
    maxClientsPerUser: e.WALCAST_MAX_CLIENTS_PER_USER,
    publication: e.WALCAST_PUBLICATION,
    instance,
    slotName: slotNameFor(instance),
    presenceTtlSeconds: e.WALCAST_PRESENCE_TTL,
    presenceRatePerMinute: e.WALCAST_PRESENCE_RATE,
    editRatePerMinute: e.WALCAST_EDIT_RATE,
    maxTxnChanges: e.WALCAST_MAX_TXN_CHANGES,
    retainEvents: e.WALCAST_RETAIN_EVENTS,
    retainBytes: e.WALCAST_RETAIN_BYTES,
    retainSeconds: e.WALCAST_RETAIN_SECONDS,
    retainWalBytes: e.WALCAST_RETAIN_WAL_BYTES,
    clientQueueBytes: e.WALCAST_CLIENT_QUEUE_BYTES,
    dataDir: e.WALCAST_DATA_DIR,
    slotOrphanAfterSeconds: e.WALCAST_SLOT_ORPHAN_AFTER,
    tlsCert: e.WALCAST_TLS_CERT,
    tlsKey: e.WALCAST_TLS_KEY,
    demo: e.WALCAST_DEMO === 'true',
    migrate: e.WALCAST_MIGRATE === 'true',
    logLevel: e.LOG_LEVEL,
  } satisfies Config);
}
