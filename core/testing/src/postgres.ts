import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

/** A throw-away PostgreSQL server for tests. */
export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  /** Create a fresh database and resolve its URL. */
  createDatabase(name: string): Promise<string>;
  /** Drop a database made by {@link createDatabase}, closing its connections. */
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Where Debian's PostgreSQL binaries are (`/usr/lib/postgresql/<version>/bin`). */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) throw new Error('PostgreSQL is not installed: apt-get install -y postgresql');
  versions.sort((a, b) => Number(b) - Number(a));
  return path.join(root, versions[0]!, 'bin');
}

type AsOwner = (command: string, args: string[]) => [string, string[]];

/**
 * The data folder `initdb` makes, made once per test run (the vitest process is the parent
 * of its workers) and per PostgreSQL version, then copied for every cluster: initdb takes
 * seconds, a copy of its 40 MB a fraction of one. Never started itself; made in a folder of
 * its own and renamed into place whole, so a run's parallel workers share one.
 */
function templateCluster(bin: string, run: AsOwner): string {
  const version = path.basename(path.dirname(bin));
  const dir = path.join(tmpdir(), `rc-postgres-template-${version}-${process.getuid?.() ?? 0}-${process.ppid}`);
  if (!existsSync(dir)) {
    const building = ownedTempDir('rc-postgres-template-');
    const [initCommand, initArgs] = run('initdb', ['-D', path.join(building, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    execFileSync(initCommand, initArgs, { stdio: 'ignore' });
    try {
      renameSync(building, dir);
    } catch (error) {
      // Another worker of the run made it first.
      rmSync(building, { recursive: true, force: true });
      if (!existsSync(dir)) throw error;
    }
  }
  return path.join(dir, 'data');
}

/** A temporary folder the cluster's owner may write (the `postgres` user when running as root). */
function ownedTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  if (process.getuid?.() === 0) {
    const uid = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
    const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
    chownSync(dir, Number(uid), Number(gid));
    chmodSync(dir, 0o700);
  }
  return dir;
}

/**
 * Start PostgreSQL in a temporary folder on a free loopback port, trusting local
 * connections. initdb refuses to run as root, so as root the cluster belongs to the
 * `postgres` user (the Debian package creates it).
 */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  const dir = ownedTempDir('rc-postgres-');
  const data = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const run: AsOwner = (command, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, command), ...args]] : [path.join(bin, command), args]);
  // A copy of the run's initdb output (cp -a keeps the owner and modes PostgreSQL checks).
  execFileSync('cp', ['-a', templateCluster(bin, run), data], { stdio: 'ignore' });
  const port = await freePort();
  const [command, args] = run('postgres', ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200']);
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const { Client } = (await import('pg')).default;
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`postgres exited:\n${output}`);
    const client = new Client({ connectionString: url });
    const ready = await client.connect().then(
      () => true,
      () => false,
    );
    await client.end().catch(() => undefined);
    if (ready) break;
    if (attempt > 200) throw new Error(`postgres did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    async createDatabase(name) {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async dropDatabase(name) {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '')}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        // runuser does not pass signals on: ask pg_ctl (as the cluster's owner) to stop it.
        const [stopCommand, stopArgs] = run('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-s']);
        execFileSync(stopCommand, stopArgs, { stdio: 'ignore' });
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
