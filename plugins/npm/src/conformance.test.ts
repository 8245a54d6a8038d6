import { createHash } from 'node:crypto';
import { describeFormatConformance, type ConformancePackage, type ConformanceTarget, type FormatConformanceAdapter } from '@registry-core/testing';
import { NPM_PLUGIN } from './testing/npm-host.js';
import { publishBody } from './testing/publish-body.js';
import { packageTgz } from './testing/tarballs.js';

// The kernel's group contract on npm, through the protocol npm itself speaks: a publish is
// `PUT /<name>` with the tarball base64 in `_attachments`, the version list is the
// packument's `versions`, an artifact is `GET /<name>/-/<file>.tgz`.

/** `@scope/name` as npm puts it in a URL: the scope's slash encoded. */
const urlName = (name: string) => (name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name));
const tarballFile = (name: string, version: string) => `${name.split('/').pop()}-${version}.tgz`;
const bearer = (target: ConformanceTarget): Record<string, string> => (target.token ? { authorization: `Bearer ${target.token}` } : {});

/** The package tarball of a conformance package (the same package, the same bytes). */
const tarballOf = (pkg: ConformancePackage) =>
  packageTgz({ name: pkg.name, version: pkg.version }, [{ name: 'package/content.txt', content: pkg.content }]);

/** A publish body of `name@version` (the tarball's manifest says the same); `documentName` renames the document alone. */
async function body(name: string, version: string, options: Parameters<typeof publishBody>[2] & { documentName?: string } = {}): Promise<string> {
  const manifest = { name, version };
  const { documentName, ...rest } = options;
  const document = publishBody(manifest, await packageTgz(manifest), rest);
  return JSON.stringify(documentName === undefined ? document : { ...document, _id: documentName, name: documentName });
}

/** Publish bodies of the hostile requests (built once: `hostileRequests` is synchronous). */
const hostileBodies = {
  // Everything else (version, attachment, tarball) is the URL's package: only the name check refuses it.
  otherName: await body('rc-hostile-url', '1.0.0', { documentName: 'rc-hostile-body' }),
  scopedEscape: await body('@rc-scope/../../rc-escape', '1.0.0'),
  attachment: await body('rc-hostile-attachment', '1.0.0', { attachmentName: '../../rc-hostile-attachment-1.0.0.tgz' }),
  version: await body('rc-hostile-version', '1.0.0'),
  tarball: await body('rc-hostile-tarball', '1.0.0'),
};

const npm: FormatConformanceAdapter = {
  name: 'npm',
  plugin: NPM_PLUGIN,
  format: 'npm',
  artifact: tarballOf,
  async publish(target, pkg) {
    const tarball = await tarballOf(pkg);
    const response = await fetch(`${target.repositoryUrl}${urlName(pkg.name)}`, {
      method: 'PUT',
      headers: { ...bearer(target), 'content-type': 'application/json' },
      body: JSON.stringify(publishBody({ name: pkg.name, version: pkg.version }, tarball)),
    });
    await response.arrayBuffer();
    return response;
  },
  async readVersions(target, name) {
    const response = await fetch(`${target.repositoryUrl}${urlName(name)}`, { headers: { ...bearer(target), accept: 'application/json' }, redirect: 'manual' });
    if (response.status !== 200) {
      await response.arrayBuffer();
      return { status: response.status, headers: response.headers };
    }
    const doc = (await response.json()) as { versions?: Record<string, unknown> };
    return { status: response.status, headers: response.headers, versions: Object.keys(doc.versions ?? {}) };
  },
  async readArtifact(target, name, version) {
    const response = await fetch(`${target.repositoryUrl}${name}/-/${tarballFile(name, version)}`, { headers: bearer(target) });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, ...(response.status === 200 ? { bytes } : {}) };
  },
  hostileRequests: ({ repository, group, token }) => {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    return [repository, group].flatMap((repo) => [
      { label: `a tarball path with dot-dot segments in a scoped name in ${repo}`, method: 'GET', path: `/${repo}/@rc-scope/..%2f..%2fetc/-/passwd-1.0.0.tgz` },
      { label: `a scoped tarball path whose scope is dot-dot in ${repo}`, method: 'GET', path: `/${repo}/@..%2f..%2frc-hostile/-/rc-hostile-1.0.0.tgz` },
      { label: `a tarball file name with dot-dot segments in ${repo}`, method: 'GET', path: `/${repo}/rc-hostile-seed/-/..%2f..%2frc-hostile-seed-1.0.0.tgz` },
      { label: `a tarball delete with dot-dot segments in a scoped name in ${repo}`, method: 'DELETE', path: `/${repo}/@rc-scope%2f..%2f..%2frc-hostile-seed/-/rc-hostile-seed-1.0.0.tgz/-rev/1-0`, headers },
      { label: `a dist-tags path with dot-dot segments in ${repo}`, method: 'GET', path: `/${repo}/-/package/@rc-scope%2f..%2f..%2fetc/dist-tags` },
      { label: `a dist-tag set on a scoped name with dot-dot segments in ${repo}`, method: 'PUT', path: `/${repo}/-/package/@rc-scope%2f..%2frc-hostile-seed/dist-tags/beta`, headers, body: '"1.0.0"' },
      { label: `a publish whose body names another package than the URL in ${repo}`, method: 'PUT', path: `/${repo}/rc-hostile-url`, headers, body: hostileBodies.otherName },
      { label: `a publish of a scoped name with dot-dot segments in ${repo}`, method: 'PUT', path: `/${repo}/@rc-scope%2f..%2f..%2frc-escape`, headers, body: hostileBodies.scopedEscape },
      { label: `a publish whose attachment is named with dot-dot segments in ${repo}`, method: 'PUT', path: `/${repo}/rc-hostile-attachment`, headers, body: hostileBodies.attachment },
      { label: `a publish to a version path in ${repo}`, method: 'PUT', path: `/${repo}/rc-hostile-version/1.0.0`, headers, body: hostileBodies.version },
      { label: `a publish to a tarball path in ${repo}`, method: 'PUT', path: `/${repo}/rc-hostile-tarball/-/rc-hostile-tarball-1.0.0.tgz`, headers, body: hostileBodies.tarball },
    ]);
  },
};

describeFormatConformance(npm);
