#!/usr/bin/env node
// The `walcast` command: the only place that reads the environment, wires real
// dependencies, handles signals and chooses exit codes.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { signToken } from '../auth/jwt.js';
import { assertCanVerifyTokens, loadConfig, type Config } from '../config/config.js';
import { diagnose, formatFindings } from '../doctor/checks.js';
import { demoRoutes, devSecret, installDemo } from '../embedded/demo.js';
import { startPostgres, type PostgresServer } from '../embedded/postgres-server.js';
import { isWalcastError, WalcastError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { migrate } from '../sql/migrate.js';
import { uninstall } from '../sql/uninstall.js';
import { generateTypes } from '../typegen/generate-types.js';
import { startWalcast } from '../walcast.js';

const USAGE = `usage: walcast <command>

  serve                          stream changes over HTTP (what npm start runs)
  migrate                        install or upgrade the walcast SQL schema in DATABASE_URL
  uninstall [--drop-version-columns]
                                 remove walcast from DATABASE_URL: exposures (as conceal), event triggers,
                                 grants, the publications and slots it created, the schema; the version
                                 columns it added only with --drop-version-columns
  doctor                         check DATABASE_URL for what walcast needs; print the SQL that fixes
                                 each problem; exit 1 when there is one
  types [--table T]...           print TypeScript row types of the exposed tables (DATABASE_URL)
  token --tenant T --sub U [--ttl SECONDS]
                                 print a token signed with WALCAST_JWT_SECRET (or the dev secret)

Settings are environment variables; see the README.`;

const EXIT_PROBLEMS = 1;
const EXIT_CONFIG = 2;

async function serve(config: Config, log: Logger): Promise<void> {
  assertCanVerifyTokens(config);
  let embedded: PostgresServer | undefined;
  let databaseUrl = config.databaseUrl;
  let secret = config.jwtSecret;
  if (!databaseUrl) {
    embedded = await startPostgres({ dataDir: path.join(config.dataDir, 'pgdata'), log });
    databaseUrl = embedded.url;
    secret ??= await devSecret(config.dataDir);
  }
  const devConfig = { ...config, jwtSecret: secret };
  const demoSecret = embedded !== undefined || config.demo ? secret : undefined;
  if (demoSecret && !embedded) {
    log.warn('WALCAST_DEMO=true: /dev/token hands anyone who reaches this server a token for any tenant; never set it in production');
  }
  const walcast = await startWalcast({
    config: devConfig,
    databaseUrl,
    log,
    // Loopback in embedded mode unless WALCAST_HOST says otherwise (config.ts).
    host: config.host,
    extraRouters: demoSecret ? [demoRoutes(demoSecret, config.tenantClaim)] : [],
  }).catch(async (error: unknown) => {
    await embedded?.stop();
    throw error;
  });
  if (embedded && secret) {
    await installDemo(databaseUrl);
    const token = await signToken(secret, { tenant: 'acme', sub: 'dev-user', ttlSeconds: 24 * 3600, tenantClaim: config.tenantClaim });
    process.stdout.write(
      [
        '',
        `walcast is running (embedded Postgres, data in ${path.resolve(config.dataDir)})`,
        `  demo page:  ${walcast.url}/`,
        `  stream:     ${walcast.url}/v1/stream?tables=public.todos&access_token=${token}`,
        `  dev token (tenant "acme", 24 h): ${token}`,
        `  psql:       psql ${databaseUrl} -c "insert into todos (org_id, title) values ('acme', 'hello')"`,
        '',
        '',
      ].join('\n'),
    );
  } else {
    log.info({ url: walcast.url }, 'walcast serving');
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Within the usual 30 s a platform waits after SIGTERM (requests under way get 10 s).
    const hardStop = setTimeout(() => process.exit(1), 25_000);
    hardStop.unref();
    void walcast
      .close()
      .then(() => embedded?.stop())
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

async function runMigrate(config: Config): Promise<void> {
  if (!config.databaseUrl) throw new WalcastError('INVALID_CONFIG', 'DATABASE_URL is required for migrate (embedded mode migrates on serve)');
  const result = await migrate(config.databaseUrl);
  const applied = result.applied.length > 0 ? `applied ${result.applied.join(', ')}` : 'nothing to apply';
  process.stdout.write(`walcast schema at version ${result.version} (${applied})\n`);
}

async function runUninstall(config: Config, args: string[]): Promise<void> {
  if (!config.databaseUrl) throw new WalcastError('INVALID_CONFIG', 'DATABASE_URL is required for uninstall');
  const { values } = parseArgs({ args, options: { 'drop-version-columns': { type: 'boolean', default: false } } });
  const done = await uninstall(config.databaseUrl, { dropVersionColumns: values['drop-version-columns'] });
  process.stdout.write(`${done.join('\n')}\n`);
}

async function runDoctor(config: Config): Promise<void> {
  if (!config.databaseUrl) throw new WalcastError('INVALID_CONFIG', 'DATABASE_URL is required for doctor (the embedded server prints its URL on start)');
  const findings = await diagnose(config.databaseUrl, config.publication, config.slotOrphanAfterSeconds);
  process.stdout.write(formatFindings(findings));
  if (findings.some((finding) => finding.severity === 'fail')) process.exitCode = EXIT_PROBLEMS;
}

async function runTypes(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { table: { type: 'string', multiple: true } } });
  if (!config.databaseUrl) throw new WalcastError('INVALID_CONFIG', 'DATABASE_URL is required for types (the embedded server prints its URL on start)');
  process.stdout.write(await generateTypes(config.databaseUrl, config.publication, values.table ?? []));
}

async function runToken(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { tenant: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string', default: '3600' } },
  });
  const ttlSeconds = Number(values.ttl);
  if (!values.tenant || !values.sub || !Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new WalcastError('INVALID_CONFIG', 'usage: walcast token --tenant T --sub U [--ttl SECONDS]');
  }
  const secret = config.jwtSecret ?? (config.databaseUrl ? undefined : await devSecret(config.dataDir));
  if (!secret) throw new WalcastError('INVALID_CONFIG', 'WALCAST_JWT_SECRET is required to sign tokens');
  const token = await signToken(secret, { tenant: values.tenant, sub: values.sub, ttlSeconds, tenantClaim: config.tenantClaim });
  process.stdout.write(`${token}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadConfig(process.env);
  const log = createLogger(config.logLevel);
  switch (command) {
    case 'serve':
      return serve(config, log);
    case 'migrate':
      return runMigrate(config);
    case 'uninstall':
      return runUninstall(config, rest);
    case 'doctor':
      return runDoctor(config);
    case 'types':
      return runTypes(config, rest);
    case 'token':
      return runToken(config, rest);
    default:
      throw new WalcastError('INVALID_CONFIG', `unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (isWalcastError(error) && (error.code === 'INVALID_CONFIG' || error.code === 'DATABASE_SETUP')) {
    process.stderr.write(`walcast: ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  process.stderr.write(`walcast: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
