import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import {
  AuthService,
  ConfigError,
  MetadataStore,
  Registry,
  TtlOverrides,
  hashPassword,
  loadConfig,
  parseSince,
  describePlugin,
  type LoadedConfig,
} from '@registry-core/kernel';
import { registerConfigSchemaCommand } from './commands/config-schema.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const version = (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

async function load(options: { config?: string; port?: number; host?: string }): Promise<LoadedConfig> {
  return loadConfig({ file: options.config, overrides: { port: options.port, host: options.host } });
}

/** Open the metadata store and auth service without starting plugins or HTTP. */
async function withAuth<T>(options: { config?: string }, work: (auth: AuthService) => Promise<T>): Promise<T> {
  const { config } = await load(options);
  const metadata = await MetadataStore.open(config.metadata);
  try {
    return await work(new AuthService(config.auth, metadata));
  } finally {
    await metadata.close();
  }
}

/** A comma-separated option value as a list (empty entries dropped). */
function list(value: string): string[] {
  const items = value.split(',').map((v) => v.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('give at least one value');
  return items;
}

async function readSecret(given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  if (process.stdin.isTTY) throw new InvalidArgumentError('give --password, or pipe the password on standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function buildProgram(): Command {
  const program = new Command('registry-core')
    .description('One registry server for npm and every other package ecosystem, as plugins.')
    .version(version);

  program
    .command('start')
    .description('start the registry (zero-config default when no config file is found)')
    .option('-c, --config <file>', 'config file (default: registry-core.config.* or .registry-corerc in this folder)')
    .option('-p, --port <port>', 'port to listen on (overrides server.port)', port)
    .option('-H, --host <host>', 'address to listen on (overrides server.host)')
    .action(async (options: { config?: string; port?: number; host?: string }) => {
      const loaded = await load(options);
      const registry = await Registry.create(loaded, { pluginSearchDirs: [packageRoot] });
      const address = await registry.start();
      printBanner(registry, loaded, address.port);
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) {
          registry.logger.warn(`second ${signal}: exiting now`);
          process.exit(1);
        }
        stopping = true;
        registry.logger.info(`${signal} received: finishing in-flight requests`);
        await registry.stop();
        registry.logger.info('stopped');
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });

  const configCmd = program.command('config').description('configuration commands');
  configCmd
    .command('check')
    .description('validate the config file and the plugins it declares')
    .option('-c, --config <file>', 'config file')
    .action(async (options: { config?: string }) => {
      const loaded = await load(options);
      const registry = await Registry.create(loaded, { pluginSearchDirs: [packageRoot] });
      try {
        const problems = [
          ...registry.plugins.records.filter((p) => p.status === 'refused' || p.status === 'failed').map((p) => `plugin ${describePlugin(p)}: ${p.reason}`),
          ...registry.unavailable.map((r) => `repository ${r.name}: ${r.reason}`),
        ];
        console.log(`config: ${loaded.filepath ?? '(zero-config default)'}`);
        console.log(`repositories: ${registry.repositories.size} ready`);
        for (const p of problems) console.log(`problem: ${p}`);
        if (problems.length) process.exitCode = 1;
        else console.log('config OK');
      } finally {
        await registry.stop();
      }
    });

  program
    .command('plugins')
    .description('plugin commands')
    .command('list')
    .description('list declared plugins: active, inactive, refused (with the reason)')
    .option('-c, --config <file>', 'config file')
    .option('--json', 'print JSON')
    .action(async (options: { config?: string; json?: boolean }) => {
      const loaded = await load(options);
      const registry = await Registry.create(loaded, { pluginSearchDirs: [packageRoot] });
      try {
        const rows = registry.plugins.records.map((p) => ({
          name: p.name,
          version: p.version || '-',
          status: p.status,
          implicit: p.implicit,
          contributes: p.manifest?.contributes ?? {},
          ...(p.reason ? { reason: p.reason } : {}),
        }));
        if (options.json) console.log(JSON.stringify(rows, null, 2));
        else for (const r of rows) console.log(`${r.status.padEnd(8)} ${r.name}@${r.version}${r.implicit ? ' (implicit)' : ''}${r.reason ? `  ${r.reason}` : ''}`);
      } finally {
        await registry.stop();
      }
    });

  program
    .command('status')
    .description("a running server's health and, per proxy, its upstream's state (circuit breaker) and cache counters")
    .option('-c, --config <file>', 'config file (the server address is taken from server.publicUrl or server.host/port)')
    .option('--url <url>', 'address of the running server (instead of the config)')
    .option('--json', 'print JSON')
    .action(async (options: { config?: string; url?: string; json?: boolean }) => {
      let base = options.url;
      if (!base) {
        const { config } = await load(options);
        const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
        base = config.server.publicUrl ?? `http://${host}:${config.server.port}`;
      }
      base = base.replace(/\/+$/, '');
      let health: { status: string; upstreams?: Record<string, string> };
      let stats: { repositories: Record<string, { hits: number; misses: number; stale: number; negativeHits: number; upstreamRequests: number; upstreamErrors: number; breaker: { state: string; consecutiveFailures: number; openUntil?: string } }> };
      try {
        const healthAnswer = await fetch(`${base}/-/health`, { signal: AbortSignal.timeout(10_000) });
        health = (await healthAnswer.json()) as typeof health;
        stats = (await (await fetch(`${base}/-/stats`, { signal: AbortSignal.timeout(10_000) })).json()) as typeof stats;
      } catch (error) {
        console.error(`registry-core at ${base} does not answer: ${(error as Error).message}`);
        process.exitCode = 2;
        return;
      }
      const proxies = Object.entries(stats.repositories);
      const degraded = proxies.some(([, p]) => p.breaker.state !== 'closed');
      if (options.json) console.log(JSON.stringify({ url: base, status: health.status, proxies: stats.repositories }, null, 2));
      else {
        console.log(`${base}: ${health.status}`);
        for (const [name, p] of proxies) {
          const breaker = p.breaker.state === 'closed' ? 'upstream ok' : `upstream ${p.breaker.state} after ${p.breaker.consecutiveFailures} failures${p.breaker.openUntil ? ` (next probe ${p.breaker.openUntil})` : ''}`;
          console.log(`  ${name.padEnd(24)} ${breaker.padEnd(20)} hits ${p.hits}, misses ${p.misses}, stale ${p.stale}, negative ${p.negativeHits}, upstream requests ${p.upstreamRequests}, errors ${p.upstreamErrors}`);
        }
      }
      // 0: healthy; 1: serving, but an upstream is blocked or the server is draining.
      process.exitCode = health.status === 'ok' && !degraded ? 0 : 1;
    });

  program
    .command('audit')
    .description('who did what: publishes, unpublishes, tag changes, deletes, logins (failed ones too), users and tokens; newest first')
    .option('-c, --config <file>', 'config file')
    .option('--since <when>', 'a duration such as 7d, 12h or 30m, or a date')
    .option('--user <name>', 'only this principal')
    .option('--repo <name>', 'only this repository')
    .option('--action <action>', 'only this action (publish, unpublish, tag, untag, deprecate, delete, login, logout, user.create, token.create, token.revoke)')
    .option('--limit <n>', 'most entries', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
      return n;
    })
    .option('--json', 'print JSON')
    .action(async (options: { config?: string; since?: string; user?: string; repo?: string; action?: string; limit?: number; json?: boolean }) => {
      const since = options.since === undefined ? undefined : parseSince(options.since);
      if (options.since !== undefined && since === undefined) throw new InvalidArgumentError('--since: a duration such as 7d, 12h, 30m, or a date');
      const events = await withAuth(options, (auth) =>
        auth.audit.query({
          ...(since !== undefined ? { since } : {}),
          ...(options.user ? { user: options.user } : {}),
          ...(options.repo ? { repository: options.repo } : {}),
          ...(options.action ? { action: options.action } : {}),
          limit: options.limit ?? 1000,
        }),
      );
      if (options.json) {
        console.log(JSON.stringify(events, null, 2));
        return;
      }
      for (const e of events) {
        const target = [e.repository, e.package ? `${e.package}${e.version ? `@${e.version}` : ''}` : undefined].filter(Boolean).join(' ');
        const details = e.details && Object.keys(e.details).length > 0 ? ` ${JSON.stringify(e.details)}` : '';
        console.log(`${e.at}  ${e.outcome === 'ok' ? '' : `${e.outcome.toUpperCase()} `}${e.action.padEnd(12)} ${e.principal.padEnd(16)} ${target}${e.clientAddress ? ` from ${e.clientAddress}` : ''}${details}`);
      }
    });

  program
    .command('db')
    .description('metadata store commands')
    .command('migrate')
    .description('apply pending migrations to the metadata store (SQLite or PostgreSQL); needed before start when metadata.migrate is false')
    .option('-c, --config <file>', 'config file')
    .action(async (options: { config?: string }) => {
      const { config } = await load(options);
      const metadata = await MetadataStore.open(config.metadata, { migrate: false, check: false });
      try {
        const applied = await metadata.migrate();
        console.log(applied.length ? `applied ${applied.join(', ')}` : 'the metadata store is up to date');
      } finally {
        await metadata.close();
      }
    });

  const cache = program.command('cache').description('proxy cache upkeep');
  cache
    .command('clean')
    .description('remove expired metadata and content of proxies unused for N days, then enforce cleanup.maxCacheSize (least recently used first); hosted content is never removed')
    .option('--dry-run', 'only report what would be removed')
    .option('--unused-days <days>', 'override cleanup.unusedDays', (v) => {
      const n = Number(v);
      if (!(n >= 0)) throw new InvalidArgumentError('must be a number of days');
      return n;
    })
    .option('-c, --config <file>', 'config file')
    .action(async (options: { dryRun?: boolean; unusedDays?: number; config?: string }) => {
      const registry = await Registry.create(await load(options), { pluginSearchDirs: [packageRoot] });
      try {
        const summary = await registry.cleanCache({ dryRun: options.dryRun, unusedDays: options.unusedDays, onProgress: (m) => console.error(m) });
        console.log(
          `${summary.dryRun ? 'would remove' : 'removed'}: ${summary.expiredMetadata} expired metadata, ${summary.unusedContent} unused artifacts, ` +
            `${summary.evictedForSize} evicted for size; ${(summary.bytesFreed / 1024 / 1024).toFixed(1)} MB`,
        );
      } finally {
        await registry.stop();
      }
    });
  cache
    .command('verify')
    .description('re-hash stored blobs against the metadata store and report the bad ones')
    .option('--repair', 'drop the bad assets (proxies fetch them again)')
    .option('--repository <name>', 'only this repository')
    .option('-c, --config <file>', 'config file')
    .action(async (options: { repair?: boolean; repository?: string; config?: string }) => {
      const registry = await Registry.create(await load(options), { pluginSearchDirs: [packageRoot] });
      try {
        const result = await registry.maintenance.verify({ repair: options.repair, repository: options.repository, onProgress: (n) => console.error(`checked ${n}`) });
        for (const bad of result.bad) console.log(`BAD ${bad.repository}/${bad.path}: ${bad.reason}${options.repair ? ' (dropped)' : ''}`);
        console.log(`checked ${result.checked} assets, ${result.bad.length} bad`);
        if (result.bad.length > 0 && !options.repair) process.exitCode = 1;
      } finally {
        await registry.stop();
      }
    });

  program
    .command('storage')
    .description('blob store commands')
    .command('copy')
    .description('copy every blob the metadata refers to from one configured storage into another, verifying each; resumable (blobs already copied are skipped)')
    .requiredOption('--from <name>', 'source storage (a key of `storage` in the config)')
    .requiredOption('--to <name>', 'target storage')
    .option('--switch', 'once every blob is copied, point the metadata at the target (then move repositories to it in the config)')
    .option('-c, --config <file>', 'config file')
    .action(async (options: { from: string; to: string; switch?: boolean; config?: string }) => {
      const registry = await Registry.create(await load(options), { pluginSearchDirs: [packageRoot] });
      const tty = process.stderr.isTTY;
      let lastShown = -1;
      const progress = (done: number, total: number, bytes: number) => {
        const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
        if (!tty && percent < lastShown + 5 && done !== total) return;
        lastShown = percent;
        const bar = '#'.repeat(Math.round(percent / 5)).padEnd(20, '.');
        const line = `[${bar}] ${percent}% ${done}/${total} blobs, ${(bytes / 1024 / 1024).toFixed(1)} MB copied`;
        if (tty) process.stderr.write(`\r${line}`);
        else console.error(line);
      };
      try {
        const summary = await registry.copyStorage(options.from, options.to, { switchRows: !!options.switch, onProgress: progress });
        if (tty) process.stderr.write('\n');
        for (const f of summary.failed) console.log(`FAILED ${f.blobKey}: ${f.reason}`);
        console.log(
          `${summary.blobs} blobs: ${summary.copied} copied (${summary.bytesCopied} bytes), ${summary.skipped} already there, ${summary.failed.length} failed` +
            (options.switch ? (summary.failed.length === 0 ? `; ${summary.rowsSwitched} assets now in ${options.to}` : '; metadata not switched') : ''),
        );
        if (summary.failed.length > 0) process.exitCode = 1;
      } finally {
        await registry.stop();
      }
    });

  program
    .command('task <format> <task>')
    .description("run a format's upkeep task on its repositories (also as `registry-core <format> <task>`, e.g. `registry-core oci gc --dry-run`)")
    .option('--dry-run', 'change nothing; report what would change')
    .option('--repository <name>', 'only this repository')
    .option('-c, --config <file>', 'config file')
    .action(async (format: string, task: string, options: { dryRun?: boolean; repository?: string; config?: string }) => {
      const registry = await Registry.create(await load(options), { pluginSearchDirs: [packageRoot] });
      try {
        const reports = await registry.runTask(format, task, { dryRun: !!options.dryRun, ...(options.repository ? { repository: options.repository } : {}) });
        for (const { repository, report } of reports) console.log(`${repository}: ${JSON.stringify(report)}`);
      } catch (error) {
        console.error((error as Error).message);
        process.exitCode = 1;
      } finally {
        await registry.stop();
      }
    });

  program
    .command('call <repository> <method> <path>')
    .description("run one of a repository's endpoints in this process as an administrator (a format's management API: e.g. call pypi-local POST /-/yank --json '{\"project\":\"x\",\"version\":\"1.0\"}')")
    .option('--json <data>', 'request body (JSON)')
    .option('--as <user>', 'the user named in the audit log', 'cli')
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string, method: string, requestPath: string, options: { json?: string; as: string; config?: string }) => {
      let body: unknown;
      if (options.json !== undefined) {
        try {
          body = JSON.parse(options.json);
        } catch {
          throw new InvalidArgumentError('--json is not valid JSON');
        }
      }
      const registry = await Registry.create(await load(options), { pluginSearchDirs: [packageRoot] });
      try {
        const answer = await registry.call(repository, method, requestPath, { body, user: options.as });
        const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 2);
        if (answer.status >= 400) {
          console.error(`${answer.status} ${text ?? ''}`);
          process.exitCode = 1;
        } else if (text !== undefined) console.log(text);
      } finally {
        await registry.stop();
      }
    });

  const ttl = cache.command('ttl').description("per-artifact TTL overrides of proxies (a path, or a prefix ending in '*')");
  const withTtls = async <T>(options: { config?: string }, work: (ttls: TtlOverrides, config: LoadedConfig['config']) => Promise<T>): Promise<T> => {
    const { config } = await load(options);
    const metadata = await MetadataStore.open(config.metadata);
    try {
      return await work(new TtlOverrides(metadata), config);
    } finally {
      await metadata.close();
    }
  };
  const proxyNamed = (config: LoadedConfig['config'], name: string) => {
    const repo = config.repositories[name];
    if (!repo || repo.type !== 'proxy') throw new InvalidArgumentError(`${name} is not a proxy repository in this config`);
  };
  ttl
    .command('set <repository> <pattern> <seconds>')
    .description('cache what matches for this many seconds before asking the upstream again')
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string, pattern: string, seconds: string, options: { config?: string }) => {
      const n = Number(seconds);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('seconds must be a non-negative integer');
      await withTtls(options, async (ttls, config) => {
        proxyNamed(config, repository);
        await ttls.set(repository, pattern, n);
      });
      console.log(`${repository} ${pattern}: ${n} s (in force within 10 s on running servers)`);
    });
  ttl
    .command('unset <repository> <pattern>')
    .description('remove an override')
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string, pattern: string, options: { config?: string }) => {
      const removed = await withTtls(options, (ttls) => ttls.unset(repository, pattern));
      if (!removed) throw new Error(`no override ${pattern} in ${repository}`);
      console.log(`${repository} ${pattern}: override removed`);
    });
  ttl
    .command('list [repository]')
    .description('show overrides')
    .option('-c, --config <file>', 'config file')
    .action(async (repository: string | undefined, options: { config?: string }) => {
      const overrides = await withTtls(options, (ttls) => ttls.list(repository));
      for (const o of overrides) console.log(`${o.repository}\t${o.pattern}\t${o.seconds}`);
    });

  const user = program.command('user').description('user commands');
  user
    .command('add <name>')
    .description('create a user in the metadata store')
    .option('--password <password>', 'the password (or pipe it on standard input)')
    .option('--roles <roles>', 'comma-separated roles (admin, ...)')
    .option('-c, --config <file>', 'config file')
    .action(async (name: string, options: { password?: string; roles?: string; config?: string }) => {
      const password = await readSecret(options.password);
      await withAuth(options, async (auth) => {
        const roles = options.roles ? options.roles.split(',').map((r) => r.trim()).filter(Boolean) : [];
        await auth.addUser(name, password, { roles });
      });
      console.log(`user ${name} created`);
    });
  user
    .command('set-password <name>')
    .description("change a stored user's password; every token of the user is revoked")
    .option('--password <password>', 'the new password (or pipe it on standard input)')
    .option('-c, --config <file>', 'config file')
    .action(async (name: string, options: { password?: string; config?: string }) => {
      const password = await readSecret(options.password);
      await withAuth(options, (auth) => auth.setPassword(name, password));
      console.log(`password of ${name} changed; its tokens are revoked`);
    });
  user
    .command('hash-password')
    .description('print a password hash for auth.users.<name>.passwordHash in the config')
    .option('--password <password>', 'the password (or pipe it on standard input)')
    .action(async (options: { password?: string }) => {
      console.log(await hashPassword(await readSecret(options.password)));
    });

  const token = program.command('token').description('token commands');
  token
    .command('create')
    .description('create a token for a user; the token is printed on the last line')
    .requiredOption('--user <name>', 'user the token acts as')
    .option('--read-only', 'the token can read but never publish or delete')
    .option('--description <text>', 'what the token is for')
    .option('--expires-in-days <days>', 'expiry in days', (v) => {
      const n = Number(v);
      if (!(n > 0)) throw new InvalidArgumentError('must be a positive number');
      return n;
    })
    .option('--repositories <globs>', 'comma-separated repository globs the token may publish to and delete in (default: any)', list)
    .option('--packages <globs>', "comma-separated package-name globs the token may publish and delete, e.g. '@team-a/*' (default: any)", list)
    .option('-c, --config <file>', 'config file')
    .action(async (options: { user: string; readOnly?: boolean; description?: string; expiresInDays?: number; repositories?: string[]; packages?: string[]; config?: string }) => {
      const created = await withAuth(options, async (auth) => {
        if (!(await auth.userExists(options.user))) throw new Error(`no user named ${options.user}`);
        return auth.createToken(options.user, {
          readOnly: !!options.readOnly,
          description: options.description ?? 'cli',
          ...(options.expiresInDays ? { ttlSeconds: Math.round(options.expiresInDays * 86400) } : {}),
          ...(options.repositories ? { repositories: options.repositories } : {}),
          ...(options.packages ? { packages: options.packages } : {}),
        });
      });
      const scope = [created.info.repositories ? `repositories ${created.info.repositories.join(',')}` : '', created.info.packages ? `packages ${created.info.packages.join(',')}` : ''].filter(Boolean).join('; ');
      console.error(`token ${created.info.id} for ${options.user}${created.info.readOnly ? ' (read-only)' : ''}${scope ? ` limited to ${scope}` : ''}`);
      console.log(created.token);
    });
  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--user <name>', 'only this user')
    .option('-c, --config <file>', 'config file')
    .option('--json', 'print JSON')
    .action(async (options: { user?: string; config?: string; json?: boolean }) => {
      const tokens = await withAuth(options, (auth) => auth.listTokens(options.user));
      if (options.json) {
        console.log(JSON.stringify(tokens, null, 2));
        return;
      }
      for (const t of tokens) {
        console.log(
          `${t.id}  ${t.user}  ${t.prefix}…  ${t.readOnly ? 'read-only ' : 'read-write'}  created ${t.createdAt.toISOString()}` +
            `${t.expiresAt ? `  expires ${t.expiresAt.toISOString()}` : ''}${t.lastUsedAt ? `  last used ${t.lastUsedAt.toISOString()}` : ''}` +
            `${t.description ? `  ${t.description}` : ''}${t.repositories ? `  repositories ${t.repositories.join(',')}` : ''}${t.packages ? `  packages ${t.packages.join(',')}` : ''}`,
        );
      }
    });
  token
    .command('revoke <id>')
    .description('revoke a token by id (or by its secret)')
    .option('-c, --config <file>', 'config file')
    .action(async (id: string, options: { config?: string }) => {
      const revoked = await withAuth(options, (auth) => auth.revokeToken(id));
      if (!revoked) throw new Error(`no token ${id}`);
      console.log(`token ${id} revoked`);
    });

  registerConfigSchemaCommand(program);
  return program;
}

function printBanner(registry: Registry, loaded: LoadedConfig, boundPort: number): void {
  const lines: string[] = [];
  lines.push(`registry-core ${version} listening on port ${boundPort} (${loaded.filepath ? `config ${loaded.filepath}` : 'zero-config default'})`);
  lines.push(`data: ${registry.config.dataDir}`);
  for (const info of registry.repositoryInfos()) {
    lines.push('');
    lines.push(`  ${info.name}  (${info.format} ${info.type}${info.type === 'proxy' ? ` of ${String(info.config['upstream'])}` : ''}${info.type === 'group' ? ` of ${(info.config['members'] as string[]).join(', ')}` : ''})`);
    lines.push(`    ${info.url}`);
    for (const line of registry.clientConfig(info)) lines.push(`    ${line}`);
  }
  for (const u of registry.unavailable) lines.push(`  unavailable: ${u.name}: ${u.reason}`);
  for (const p of registry.plugins.records.filter((r) => r.status === 'refused' || r.status === 'failed')) {
    lines.push(`  plugin ${p.status}: ${describePlugin(p)}: ${p.reason}`);
  }
  console.log(lines.join('\n'));
}

export async function main(argv: string[]): Promise<void> {
  try {
    const program = buildProgram();
    // `registry-core <format> <task> ...` is `registry-core task <format> <task> ...`.
    const [first, second] = argv.slice(2);
    const known = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
    if (first && second && !first.startsWith('-') && !second.startsWith('-') && !known.has(first) && first !== 'help') argv = [...argv.slice(0, 2), 'task', ...argv.slice(2)];
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
}
