import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFormatConformance, type ConformancePackage, type ConformanceTarget, type FormatConformanceAdapter } from '@registry-core/testing';
import { indexPath } from './names.js';
import { crateFile, publishBody, publishJson, tarGz } from './testing/crate-files.js';

// The kernel's group contract on Cargo, through the web API cargo publishes with and the
// sparse index it reads. Each version is a tiny .crate built here, in memory.
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const crate = (pkg: ConformancePackage) => crateFile(pkg.name, pkg.version, pkg.content);
/** Cargo's credentials: the token itself as the Authorization header. */
const auth = (target: ConformanceTarget): Record<string, string> => (target.token ? { authorization: target.token } : {});

const cargo: FormatConformanceAdapter = {
  name: 'cargo',
  plugin,
  format: 'cargo',
  artifact: crate,
  async publish(target, pkg) {
    const body = publishBody(publishJson(pkg.name, pkg.version), await crate(pkg));
    const response = await fetch(`${target.repositoryUrl}api/v1/crates/new`, { method: 'PUT', headers: { ...auth(target), 'content-type': 'application/octet-stream' }, body });
    await response.arrayBuffer();
    return response;
  },
  async readVersions(target, name) {
    // Names the suite tries that no index path can hold are asked as they are.
    const file = /^[A-Za-z0-9_-]+$/.test(name) ? indexPath(name) : encodeURIComponent(name);
    const response = await fetch(`${target.repositoryUrl}${file}`, { headers: auth(target) });
    const text = await response.text();
    if (response.status !== 200) return { status: response.status, headers: response.headers };
    const versions = text.split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as { vers: string }).vers);
    return { status: response.status, headers: response.headers, versions };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}api/v1/crates/${encodeURIComponent(name)}/${encodeURIComponent(version)}/download`, { headers: auth(target) });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, ...(response.status === 200 ? { bytes } : {}) };
  },
  hostileRequests: ({ repository, group, token }) => {
    const put = (body: Buffer) => ({ method: 'PUT', headers: { authorization: token, 'content-type': 'application/octet-stream' }, body });
    const json = (name: string, vers = '1.0.0', extra: Record<string, unknown> = {}) => publishJson(name, vers, extra);
    return [repository, group].flatMap((repo) => {
      const at = `/${repo}/api/v1/crates/new`;
      return [
        { label: `a crate whose Cargo.toml names another crate, to ${repo}`, path: at, ...put(publishBody(json('rc-liar'), HOSTILE.liar)) },
        { label: `a crate whose Cargo.toml has another version, to ${repo}`, path: at, ...put(publishBody(json('rc-liar'), HOSTILE.otherVersion)) },
        { label: `a crate with a dot-dot entry, to ${repo}`, path: at, ...put(publishBody(json('rc-liar'), HOSTILE.dotDot)) },
        { label: `a crate with an absolute entry, to ${repo}`, path: at, ...put(publishBody(json('rc-liar'), HOSTILE.absolute)) },
        { label: `a crate with a symlink, to ${repo}`, path: at, ...put(publishBody(json('rc-liar'), HOSTILE.symlink)) },
        { label: `a crate that is not gzip, to ${repo}`, path: at, ...put(publishBody(json('rc-liar'), Buffer.from('not a crate at all'))) },
        { label: `a JSON length past the body, to ${repo}`, path: at, ...put(publishBody(json('rc-liar'), HOSTILE.good, { jsonLength: 1 << 20 })) },
        { label: `a crate length past the body, to ${repo}`, path: at, ...put(publishBody(json('rc-liar'), HOSTILE.good, { crateLength: HOSTILE.good.length + 100 })) },
        { label: `a crate length short of the body, to ${repo}`, path: at, ...put(publishBody(json('rc-liar'), HOSTILE.good, { crateLength: HOSTILE.good.length - 10 })) },
        { label: `a version that is not SemVer, to ${repo}`, path: at, ...put(publishBody(json('rc-liar', '1.0'), HOSTILE.good)) },
        { label: `a non-ASCII name, to ${repo}`, path: at, ...put(publishBody(json('rc-lïar'), HOSTILE.good)) },
        { label: `a reserved name, to ${repo}`, path: at, ...put(publishBody(json('nul'), HOSTILE.good)) },
        { label: `a 65-character name, to ${repo}`, path: at, ...put(publishBody(json(`r${'x'.repeat(64)}`), HOSTILE.good)) },
        { label: `a body that is not framed JSON, to ${repo}`, path: at, ...put(Buffer.from('{"name":"rc-liar"}')) },
        { label: `an index path whose folders do not fit the name in ${repo}`, method: 'GET', path: `/${repo}/zz/zz/rc-hostile-seed` },
        { label: `a download with a dot-dot version in ${repo}`, method: 'GET', path: `/${repo}/api/v1/crates/rc-hostile-seed/..%2f..%2fetc/download` },
      ];
    });
  },
};

/** Hostile .crate files, built once before the suite runs. */
const HOSTILE = {
  good: await crateFile('rc-liar', '1.0.0'),
  liar: await crateFile('rc-liar', '1.0.0', '', { name: 'rc-other' }),
  otherVersion: await crateFile('rc-liar', '1.0.0', '', { version: '2.0.0' }),
  dotDot: await tarGz([{ name: 'rc-liar-1.0.0/Cargo.toml', content: '[package]\nname = "rc-liar"\nversion = "1.0.0"\n' }, { name: 'rc-liar-1.0.0/../../escape.rs', content: 'x' }]),
  absolute: await tarGz([{ name: 'rc-liar-1.0.0/Cargo.toml', content: '[package]\nname = "rc-liar"\nversion = "1.0.0"\n' }, { name: '/etc/escape.rs', content: 'x' }]),
  symlink: await tarGz([{ name: 'rc-liar-1.0.0/Cargo.toml', content: '[package]\nname = "rc-liar"\nversion = "1.0.0"\n' }, { name: 'rc-liar-1.0.0/src', type: 'symlink', linkname: '/etc' }]),
};

describeFormatConformance(cargo);
