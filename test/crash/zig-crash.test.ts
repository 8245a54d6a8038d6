import { gzipSync } from 'node:zlib';
import { describeCrashPoints, ustarArchive, type CrashPackage, type CrashTarget } from '@registry-core/testing';
import { describe, expect, it } from 'vitest';
import { cliBin, createUserAndToken, startRegistry, tempDir } from '../helpers/registry-process.js';

// A zig publish: one multipart POST of the archive. The registry stores the archive (pending),
// the hash lookups and the package document: the harness kills it at each.
const auth = (target: CrashTarget): Record<string, string> => (target.token ? { authorization: `Bearer ${target.token}` } : {});

function archive(pkg: CrashPackage): Buffer {
  const top = `${pkg.name}-${pkg.version}`;
  return gzipSync(
    ustarArchive({
      [`${top}/build.zig.zon`]: `.{ .name = "${pkg.name}", .version = "${pkg.version}" }\n`,
      [`${top}/src/root.zig`]: `// ${pkg.content.toString('hex')}\n`,
    }),
  );
}

async function zigPublish(target: CrashTarget, pkg: CrashPackage) {
  const form = new FormData();
  form.set('tarball', new Blob([archive(pkg)], { type: 'application/gzip' }), `${pkg.name}-${pkg.version}.tar.gz`);
  const response = await fetch(`${target.repositoryUrl}publish`, { method: 'POST', headers: auth(target), body: form });
  return { ok: response.ok, status: response.status, detail: `${response.statusText} ${await response.text()}` };
}

describeCrashPoints({
  name: 'zig',
  cli: cliBin,
  format: 'zig',
  publish: zigPublish,
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}packages/${encodeURIComponent(name)}/versions`, { headers: auth(target) });
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status };
    }
    return { status: 200, versions: ((await response.json()) as { versions?: string[] }).versions ?? [] };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}packages/${encodeURIComponent(name)}/${encodeURIComponent(version)}/tarball`, { headers: auth(target) });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
  },
  artifact: archive,
  // A version that had landed: 409, versions are immutable.
  alreadyPublished: (result) => result.status === 409,
});

describe('zig publish killed right after its commit point', () => {
  it('keeps the hash lookup of the published version', async () => {
    const config = 'repositories:\n  zig-local: { format: zig, type: hosted }\n';
    const dir = tempDir('zig-crash-lookup');
    const first = await startRegistry(config, { dir });
    const token = await createUserAndToken(first.configFile, 'crash');
    await first.stop();
    // The package document's write is the publish's commit point (the first document this process writes).
    const crashing = await startRegistry(config, { dir, env: { REGISTRY_CORE_CRASH_AT: 'document.written#1' } });
    const pkg = { name: 'rc_lookup', version: '1.0.0', content: Buffer.from('lookup') };
    await zigPublish({ url: crashing.url, repositoryUrl: `${crashing.url}/zig-local/`, token }, pkg).catch(() => undefined);
    expect(await crashing.stop()).not.toBe(0);
    const restarted = await startRegistry(config, { dir });
    try {
      const version = await fetch(`${restarted.url}/zig-local/packages/rc_lookup/1.0.0`);
      expect(version.status).toBe(200);
      const { hash } = (await version.json()) as { hash: string };
      const lookup = await fetch(`${restarted.url}/zig-local/hash/${hash}`, { redirect: 'manual' });
      expect(lookup.status).toBe(302);
    } finally {
      await restarted.stop();
    }
  });
});
