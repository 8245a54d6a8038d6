// The zero-config default when the user followed the start banner: npm, pip, Maven, cargo and go all
// point at this registry. Their proxies must not proxy the registry itself: each falls back
// to its ecosystem's public default, and the registry says so. Nothing contacts those.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

describe('zero-config with clients pointed at the registry itself', () => {
  let registry: RunningRegistry;
  let port: number;
  beforeAll(async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
    port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const home = tempDir('home');
    const own = `http://127.0.0.1:${port}`;
    writeFileSync(path.join(home, '.npmrc'), `registry=${own}/npm/\n`);
    // pip's user config (`pip config get` does not read PIP_CONFIG_FILE).
    mkdirSync(path.join(home, '.config', 'pip'), { recursive: true });
    writeFileSync(path.join(home, '.config', 'pip', 'pip.conf'), `[global]\nindex-url = ${own}/pypi/simple/\n`);
    mkdirSync(path.join(home, '.m2'));
    writeFileSync(path.join(home, '.m2', 'settings.xml'), `<settings><mirrors><mirror><id>maven</id><mirrorOf>*</mirrorOf><url>http://localhost:${port}/maven/</url></mirror></mirrors></settings>`);
    // cargo's crates.io replaced by the registry's group, as its client lines say.
    mkdirSync(path.join(home, '.cargo'));
    writeFileSync(path.join(home, '.cargo', 'config.toml'), `[source.crates-io]\nreplace-with = "cargo-mirror"\n[source.cargo-mirror]\nregistry = "sparse+${own}/cargo/"\n`);
    // The machine's own npm settings out of the way: only this home's config counts.
    const env: NodeJS.ProcessEnv = {};
    for (const key of Object.keys(process.env)) if (/^npm_config_|^PIP_|^CARGO_HOME$|^GO/i.test(key)) env[key] = undefined;
    // --verbose: the banner names each proxy's upstream.
    registry = await startRegistry(undefined, { port, args: ['--verbose'], env: { ...env, HOME: home, npm_config_userconfig: path.join(home, '.npmrc'), GOPROXY: `${own}/go/,direct` } });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('falls back to each public default and says so', () => {
    const out = registry.output();
    const own = `http://127.0.0.1:${port}`;
    expect(out).toMatch(new RegExp(`npm-proxy: the upstream ${own}/npm/ from the local npm config .* is this registry itself .*; using \\S+ \\(npm's built-in default\\) instead`));
    expect(out).toMatch(new RegExp(`pypi-proxy: the upstream ${own}/pypi/simple/ from the local pip config .* is this registry itself .*; using https://pypi.org/simple/ \\(PyPI\\) instead`));
    expect(out).toMatch(new RegExp(`maven-proxy: the upstream http://localhost:${port}/maven/ from the mirror in ~/.m2/settings.xml is this registry itself .*; using https://repo.maven.apache.org/maven2/ \\(Maven Central\\) instead`));
    expect(out).toMatch(new RegExp(`go-proxy: the upstream ${own}/go/ from GOPROXY is this registry itself .*; using https://proxy.golang.org/ \\(the public Go module proxy\\) instead`));
    const npmProxy = /npm-proxy {2}\(npm proxy of (\S+)\)/.exec(out)?.[1];
    expect(npmProxy).toMatch(/^https?:\/\//);
    expect(npmProxy).not.toContain(`:${port}`);
    expect(out).toContain('pypi-proxy  (pypi proxy of https://pypi.org/simple/)');
    expect(out).toContain('maven-proxy  (maven proxy of https://repo.maven.apache.org/maven2/)');
    expect(out).toMatch(new RegExp(`cargo-proxy: the upstream ${own}/cargo/ from the crates.io replacement in the local cargo config is this registry itself .*; using https://index.crates.io/ \\(crates.io's sparse index\\) instead`));
    expect(out).toContain('cargo-proxy  (cargo proxy of https://index.crates.io/)');
    expect(out).toContain('go-proxy  (go proxy of https://proxy.golang.org/)');
  });
});
