// The Cargo format driven by the machine's real cargo: `cargo publish` to a hosted repository
// (through the group) of a crate depending on another hosted crate, `cargo build` of a
// project depending on it and on a crate that comes through a proxy (whose upstream is a
// second registry-core hosting crates, seeded by cargo), with crates.io replaced by the
// group; `cargo yank` as the resolver sees it, `cargo search`, `cargo owner`, a private
// repository whose config.json says `auth-required`, and the upstream stopped after warm-up.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cargoClient, crateProject, type CargoClient } from '../helpers/cargo.js';
import { createUserAndToken, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
/** The .crate cargo packed for a publish (cargo 1.95 keeps it under target/package/tmp-crate/). */
function packed(project: string, file: string): string {
  const found = readdirSync(path.join(project, 'target', 'package'), { recursive: true, encoding: 'utf8' }).find((f) => path.basename(f) === file);
  if (!found) throw new Error(`cargo left no ${file} in ${project}/target/package`);
  return path.join(project, 'target', 'package', found);
}
const output = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;
/** The [[package]] entries of a Cargo.lock: name, version, checksum. */
function locked(project: string): Record<string, { version: string; checksum?: string; source?: string }> {
  const lock = readFileSync(path.join(project, 'Cargo.lock'), 'utf8');
  const out: Record<string, { version: string; checksum?: string; source?: string }> = {};
  for (const block of lock.split('[[package]]').slice(1)) {
    const field = (key: string) => new RegExp(`^${key} = "([^"]*)"`, 'm').exec(block)?.[1];
    out[field('name')!] = { version: field('version')!, ...(field('checksum') ? { checksum: field('checksum')! } : {}), ...(field('source') ? { source: field('source')! } : {}) };
  }
  return out;
}

describe('Cargo with the real cargo', () => {
  let upstream: RunningRegistry;
  let node: RunningRegistry;
  let token: string;
  let cargo: CargoClient;
  let app: string;
  const withToken = () => ({ env: { CARGO_REGISTRIES_RC_TOKEN: token, CARGO_REGISTRIES_PRIVATE_TOKEN: token } });

  beforeAll(async () => {
    // The upstream's user and token are made while the registry under test starts.
    upstream = await startRegistry(`repositories:\n  up-local: { format: cargo, type: hosted }\n`);
    const seedToken = createUserAndToken(upstream.configFile, 'seed');
    node = await startRegistry(`repositories:
  cargo-local: { format: cargo, type: hosted }
  cargo-private: { format: cargo, type: hosted, anonymousRead: false }
  cargo-proxy: { format: cargo, type: proxy, upstream: "${upstream.url}/up-local/", cache: { metadataTtl: 0, retries: 0 } }
  cargo: { format: cargo, type: group, members: [cargo-local, cargo-proxy] }
`);
    token = await createUserAndToken(node.configFile, 'pat');
    const group = `sparse+${node.url}/cargo/`;
    cargo = cargoClient(
      [
        // Needed for a registry with auth-required (cargo:token reads CARGO_REGISTRIES_<NAME>_TOKEN).
        '[registry]',
        'global-credential-providers = ["cargo:token"]',
        '[registries.up]',
        `index = "sparse+${upstream.url}/up-local/"`,
        '[registries.rc]',
        `index = "${group}"`,
        '[registries.private]',
        `index = "sparse+${node.url}/cargo-private/"`,
        // crates.io replaced by the group: plain `name = "1"` dependencies resolve through it.
        '[source.crates-io]',
        'replace-with = "rc-mirror"',
        '[source.rc-mirror]',
        `registry = "${group}"`,
        '',
      ].join('\n'),
    );
    // The upstream's crate, published there by cargo.
    const updep = crateProject('rc-updep', '0.1.0', { source: 'pub fn updep() -> u32 { 7 }\n' });
    const seeded = await cargo.run(['publish', '--registry', 'up', '--no-verify'], { cwd: updep, env: { CARGO_REGISTRIES_UP_TOKEN: await seedToken } });
    expect(seeded.code, output(seeded)).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
  });

  it('cargo publish through the group: a crate, then one depending on it; a colliding name is refused', async () => {
    const base = crateProject('rc-base', '0.1.0', { source: 'pub fn base() -> u32 { 1 }\n' });
    const published = await cargo.run(['publish', '--registry', 'rc', '--no-verify'], { cwd: base, ...withToken() });
    expect(published.code, output(published)).toBe(0);
    expect(published.stderr).toMatch(/Published rc-base v0.1.0 at registry `rc`/);
    const crate = packed(base, 'rc-base-0.1.0.crate');
    const mid = crateProject('rc-mid', '0.1.0', { dependencies: ['rc-base = { version = "0.1", registry = "rc" }'], source: 'pub fn mid() -> u32 { rc_base::base() + 1 }\n' });
    const second = await cargo.run(['publish', '--registry', 'rc', '--no-verify'], { cwd: mid, ...withToken() });
    expect(second.code, output(second)).toBe(0);
    // The index lines cargo reads: the checksum of the .crate cargo packed, the dependency in the same registry.
    const index = await fetch(`${node.url}/cargo/rc/-b/rc-base`);
    expect(index.headers.get('x-registry-member')).toBe('cargo-local');
    expect(JSON.parse((await index.text()).trim())).toMatchObject({ name: 'rc-base', vers: '0.1.0', cksum: sha256(crate), yanked: false });
    const midLine = JSON.parse((await (await fetch(`${node.url}/cargo-local/rc/-m/rc-mid`)).text()).trim()) as { deps: unknown[] };
    expect(midLine.deps).toEqual([{ name: 'rc-base', req: '^0.1', features: [], optional: false, default_features: true, target: null, kind: 'normal', registry: null }]);
    // The same name with _ for - is the same crate on crates.io, and here.
    const twin = crateProject('rc_base', '0.2.0', { source: 'pub fn twin() {}\n' });
    const refused = await cargo.run(['publish', '--registry', 'rc', '--no-verify'], { cwd: twin, ...withToken() });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/400 Bad Request\): crate "rc_base" collides with the existing crate "rc-base"/);
    // Without a token: cargo says what the server said.
    const anonymous = await cargo.run(['publish', '--registry', 'rc', '--no-verify'], { cwd: crateProject('rc-anon', '0.1.0', { source: '' }) });
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/no token found|token/i);
  });

  it('cargo build through the group as crates.io: the hosted crates and the proxied one, checksums locked', async () => {
    app = crateProject('rc-app', '0.1.0', {
      bin: true,
      dependencies: ['rc-mid = "0.1"', 'rc-updep = "0.1"'],
      source: 'fn main() { println!("{}", rc_mid::mid() + rc_updep::updep()); }\n',
    });
    const built = await cargo.run(['run', '--quiet'], { cwd: app });
    expect(built.code, output(built)).toBe(0);
    expect(built.stdout.trim()).toBe('9');
    const lock = locked(app);
    expect(Object.keys(lock).sort()).toEqual(['rc-app', 'rc-base', 'rc-mid', 'rc-updep']);
    // Through source replacement the lock keeps crates.io's source id, so it works without this registry too.
    expect(lock['rc-updep']!.source).toBe('registry+https://github.com/rust-lang/crates.io-index');
    const line = JSON.parse((await (await fetch(`${node.url}/cargo/rc/-u/rc-updep`)).text()).trim()) as { cksum: string };
    expect(lock['rc-updep']!.checksum).toBe(line.cksum);
    const download = await fetch(`${node.url}/cargo/api/v1/crates/rc-updep/0.1.0/download`);
    expect(download.headers.get('x-registry-member')).toBe('cargo-proxy');
    expect(download.headers.get('x-cache')).toBe('HIT');
  });

  it('cargo yank hides a version from resolution, --undo brings it back; cargo search and cargo owner', async () => {
    const next = crateProject('rc-base', '0.1.1', { source: 'pub fn base() -> u32 { 1 }\n' });
    expect((await cargo.run(['publish', '--registry', 'rc', '--no-verify'], { cwd: next, ...withToken() })).code).toBe(0);
    const yank = await cargo.run(['yank', '--registry', 'rc', 'rc-base', '--version', '0.1.1'], withToken());
    expect(yank.code, output(yank)).toBe(0);
    expect(yank.stderr).toMatch(/Yank rc-base@0.1.1/);
    const update = await cargo.run(['update'], { cwd: app });
    expect(update.code, output(update)).toBe(0);
    expect(locked(app)['rc-base']!.version).toBe('0.1.0');
    expect((await cargo.run(['yank', '--registry', 'rc', 'rc-base', '--version', '0.1.1', '--undo'], withToken())).code).toBe(0);
    expect((await cargo.run(['update'], { cwd: app })).code).toBe(0);
    expect(locked(app)['rc-base']!.version).toBe('0.1.1');

    const search = await cargo.run(['search', '--registry', 'rc', 'rc-']);
    expect(search.code, output(search)).toBe(0);
    expect(search.stdout).toMatch(/^rc-base = "0.1.1"\s+# rc-base for registry-core tests$/m);
    expect(search.stdout).toMatch(/^rc-mid = "0.1.0"/m);
    const owners = await cargo.run(['owner', '--list', '--registry', 'rc', 'rc-base'], withToken());
    expect(owners.stdout.trim()).toBe('pat');
    const unknown = await cargo.run(['owner', '--add', 'nobody-here', '--registry', 'rc', 'rc-base'], withToken());
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/404 Not Found\): could not find user with login `nobody-here`/);
  });

  it('a private repository: config.json says auth-required and cargo sends its token on every read', async () => {
    const secret = crateProject('rc-secret', '0.1.0', { source: 'pub fn secret() -> u32 { 42 }\n' });
    const published = await cargo.run(['publish', '--registry', 'private', '--no-verify'], { cwd: secret, ...withToken() });
    expect(published.code, output(published)).toBe(0);
    const user = crateProject('rc-secret-user', '0.1.0', { dependencies: ['rc-secret = { version = "0.1", registry = "private" }'], source: '' });
    // cargo login keeps the token in the CARGO_HOME's credentials.toml; no variable needed then.
    const loggedIn = cargoClient(readFileSync(path.join(cargo.home, 'config.toml'), 'utf8'));
    const login = await loggedIn.run(['login', '--registry', 'private', token]);
    expect(login.code, output(login)).toBe(0);
    const fetched = await loggedIn.run(['fetch'], { cwd: user });
    expect(fetched.code, output(fetched)).toBe(0);
    expect(locked(user)['rc-secret']!.checksum).toBe(sha256(packed(secret, 'rc-secret-0.1.0.crate')));
    const refused = await cargoClient(readFileSync(path.join(cargo.home, 'config.toml'), 'utf8')).run(['generate-lockfile'], { cwd: user });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/authenticat|token/i);
  });

  it('with the upstream stopped, a fresh CARGO_HOME still fetches the proxied crate from the cache', async () => {
    await upstream.stop();
    const fresh = cargoClient(readFileSync(path.join(cargo.home, 'config.toml'), 'utf8'));
    const fetched = await fresh.run(['fetch'], { cwd: app });
    expect(fetched.code, output(fetched)).toBe(0);
    expect(fetched.stderr).toMatch(/Downloaded rc-updep v0.1.0/);
    const index = await fetch(`${node.url}/cargo/rc/-u/rc-updep`);
    expect(index.headers.get('x-cache')).toBe('STALE');
  });
});
