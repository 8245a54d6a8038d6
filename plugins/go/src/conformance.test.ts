import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFormatConformance, storedZip, type ConformancePackage, type ConformanceTarget, type FormatConformanceAdapter } from '@registry-core/testing';
import { escapeCase } from './module-path.js';

// The kernel's group contract on Go modules, through the GOPROXY protocol the go command
// reads and the plain HTTP PUT of a module zip that publishes to a hosted repository.
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The suite's versions (`1.0.0`, `2.0.0`) as versions of one Go major: `v1.<major>.<minor*1000+patch>`. */
function goVersion(version: string): string {
  const [a = '0', b = '0', c = '0'] = version.split('.');
  return `v1.${Number(a)}.${Number(b) * 1000 + Number(c)}`;
}
function suiteVersion(version: string): string {
  const m = /^v1\.(\d+)\.(\d+)$/.exec(version);
  return m ? `${m[1]}.${Math.floor(Number(m[2]) / 1000)}.${Number(m[2]) % 1000}` : version;
}

/** Escaped module path for URLs; each element percent-encoded so hostile names stay in one request path. */
const urlPath = (name: string) => name.split('/').map((element) => encodeURIComponent(escapeCase(element))).join('/');

function moduleZip(pkg: ConformancePackage): Buffer {
  const prefix = `${pkg.name}@${goVersion(pkg.version)}/`;
  return storedZip([
    [`${prefix}go.mod`, Buffer.from(`module ${pkg.name}\n\ngo 1.19\n`)],
    [`${prefix}content.go`, Buffer.concat([Buffer.from('package content\n\nconst Content = `'), pkg.content, Buffer.from('`\n')])],
  ]);
}

const auth = (target: ConformanceTarget): Record<string, string> => (target.token ? { authorization: `Bearer ${target.token}` } : {});

const go: FormatConformanceAdapter = {
  name: 'go',
  plugin,
  format: 'go',
  slashInNames: true,
  packageName: (base) => `example.com/${base}`,
  namePath: (name) => escapeCase(name),
  componentVersion: (_name, version) => goVersion(version),
  artifact: moduleZip,
  async publish(target, pkg) {
    const response = await fetch(`${target.repositoryUrl}${urlPath(pkg.name)}/@v/${goVersion(pkg.version)}.zip`, { method: 'PUT', headers: auth(target), body: moduleZip(pkg) });
    await response.arrayBuffer();
    return response;
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}${urlPath(name)}/@v/list`, { headers: auth(target) });
    const text = await response.text();
    if (response.status !== 200) return { status: response.status, headers: response.headers };
    return { status: 200, headers: response.headers, versions: text.split('\n').filter((v) => v !== '').map(suiteVersion) };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}${urlPath(name)}/@v/${goVersion(version)}.zip`, { headers: auth(target) });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, ...(response.status === 200 ? { bytes } : {}) };
  },
  hostileRequests: ({ repository, group, token }) => {
    const bearer = { authorization: `Bearer ${token}` };
    const zip = (entries: [string, string][]) => storedZip(entries.map(([n, c]) => [n, Buffer.from(c)]));
    const mod = 'example.com/rc-hostile';
    const put = (label: string, target: string, body: Buffer, repo: string) => ({ label: `${label} to ${repo}`, method: 'PUT', path: `/${repo}/${target}`, headers: bearer, body });
    const good = (prefix: string) => [`${prefix}go.mod`, `module ${mod}\n`] as [string, string];
    return [repository, group].flatMap((repo) => [
      put('a zip entry with dot-dot segments', `${mod}/@v/v1.0.0.zip`, zip([good(`${mod}@v1.0.0/`), [`${mod}@v1.0.0/../../escape.go`, 'package x\n']]), repo),
      put('a zip entry with an absolute path', `${mod}/@v/v1.0.0.zip`, zip([good(`${mod}@v1.0.0/`), ['/etc/passwd', 'x']]), repo),
      put('a zip with the wrong module@version prefix', `${mod}/@v/v1.0.0.zip`, zip([good(`${mod}@v1.0.1/`)]), repo),
      put('a zip whose go.mod names another module', `${mod}/@v/v1.0.0.zip`, zip([[`${mod}@v1.0.0/go.mod`, 'module example.com/other\n']]), repo),
      put('a zip with a case-fold collision', `${mod}/@v/v1.0.0.zip`, zip([good(`${mod}@v1.0.0/`), [`${mod}@v1.0.0/a.go`, 'package a\n'], [`${mod}@v1.0.0/A.go`, 'package a\n']]), repo),
      put('a zip with a vendored package', `${mod}/@v/v1.0.0.zip`, zip([good(`${mod}@v1.0.0/`), [`${mod}@v1.0.0/vendor/x.org/y/y.go`, 'package y\n']]), repo),
      put('a zip with a nested module', `${mod}/@v/v1.0.0.zip`, zip([good(`${mod}@v1.0.0/`), [`${mod}@v1.0.0/sub/go.mod`, 'module example.com/rc-hostile/sub\n']]), repo),
      put('a version that is not Go semver', `${mod}/@v/1.0.0.zip`, zip([good(`${mod}@1.0.0/`)]), repo),
      put('a v2 version without the /v2 suffix', `${mod}/@v/v2.0.0.zip`, zip([good(`${mod}@v2.0.0/`)]), repo),
      put('a module path with an unescaped upper-case letter', 'example.com/Rc-hostile/@v/v1.0.0.zip', zip([['example.com/Rc-hostile@v1.0.0/go.mod', 'module example.com/Rc-hostile\n']]), repo),
      put('a module path with invalid characters', 'example.com/rc$hostile/@v/v1.0.0.zip', zip([['example.com/rc$hostile@v1.0.0/go.mod', 'module example.com/rc$hostile\n']]), repo),
      put('a body that is not a zip', `${mod}/@v/v1.0.0.zip`, Buffer.from('not a zip'), repo),
      { label: `a version path with an upper-case letter in ${repo}`, method: 'GET', path: `/${repo}/${mod}/@v/v1.0.0-RC1.info` },
      { label: `a module path with an upper-case letter in ${repo}`, method: 'GET', path: `/${repo}/example.com/Rc-hostile/@v/list` },
      { label: `a stray escape in ${repo}`, method: 'GET', path: `/${repo}/example.com/rc!-hostile/@v/list` },
      { label: `a checksum database lookup with an encoded slash in ${repo}`, method: 'GET', path: `/${repo}/sumdb/sum.golang.org/lookup/example.com/..%2f..%2fx@v1.0.0` },
      { label: `a checksum database name that is no host name in ${repo}`, method: 'GET', path: `/${repo}/sumdb/..%2f..%2fetc/supported` },
      { label: `a checksum database tile path with dot-dot segments in ${repo}`, method: 'GET', path: `/${repo}/sumdb/sum.golang.org/tile/8/0/../../../etc/passwd` },
    ]);
  },
};

describeFormatConformance(go);
