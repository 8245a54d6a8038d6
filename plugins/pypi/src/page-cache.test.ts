import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestHost, storedZip, type TestHost } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const JSON_V1 = 'application/vnd.pypi.simple.v1+json';

/** Upload version `version` of `project` (`a-b`) as twine does (a wheel holding its METADATA). */
async function upload(host: TestHost, repository: string, token: string, version: string, project = 'cached-page'): Promise<void> {
  const dist = project.replace(/-/g, '_');
  const info = `${dist}-${version}.dist-info`;
  const file = storedZip([
    [`${dist}.py`, Buffer.from(`VERSION = "${version}"\n`)],
    [`${info}/METADATA`, Buffer.from(`Metadata-Version: 2.1\nName: ${project}\nVersion: ${version}\n`)],
  ]);
  const form = new FormData();
  for (const [key, value] of Object.entries({ ':action': 'file_upload', protocol_version: '1', name: project, version, filetype: 'bdist_wheel', pyversion: 'py3', metadata_version: '2.1' })) form.set(key, value);
  form.set('sha256_digest', createHash('sha256').update(file).digest('hex'));
  form.set('content', new Blob([file]), `${dist}-${version}-py3-none-any.whl`);
  const answer = await host.fetch(host.repositoryUrl(repository), { method: 'POST', body: form, headers: { authorization: `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}` } });
  expect(answer.status, await answer.text()).toBe(200);
}

// A project page is rendered once per revision of what it shows (a hosted project's
// document, a proxy's cached upstream page, a group's members') and per representation,
// kept by the kernel's derived memory: `/-/stats` counts the renderings (`derived.renders`).
describe('PyPI project pages rendered once per revision', () => {
  let origin: TestHost;
  let host: TestHost;
  let originToken: string;
  let token: string;

  beforeAll(async () => {
    origin = await createTestHost({ plugins: [plugin], repositories: { origin: { format: 'pypi', type: 'hosted' } } });
    originToken = await origin.userToken('seeder');
    host = await createTestHost({
      plugins: [plugin],
      repositories: {
        local: { format: 'pypi', type: 'hosted' },
        remote: { format: 'pypi', type: 'proxy', upstream: `${origin.repositoryUrl('origin')}simple/`, cache: { retries: 0, metadataTtl: 0 } },
        all: { format: 'pypi', type: 'group', members: ['local', 'remote'] },
      },
    });
    token = await host.userToken('dev');
  });

  afterAll(async () => {
    await host?.stop();
    await origin?.stop();
  });

  const renders = async () => ((await (await host.fetch('/-/stats')).json()) as { derived: { renders: number } }).derived.renders;
  const page = async (repository: string, accept?: string, project = 'cached-page') => {
    const answer = await host.fetch(`/${repository}/simple/${project}/`, accept ? { headers: { accept } } : {});
    const text = await answer.text();
    expect(answer.status, text).toBe(200);
    return { text, etag: answer.headers.get('etag')!, type: answer.headers.get('content-type') };
  };
  const versionsOf = (json: string) => (JSON.parse(json) as { versions: string[] }).versions;

  it('renders a hosted page once per representation, serves it again with its ETag, and an upload changes it at once', async () => {
    await upload(host, 'local', token, '1.0');
    const before = await renders();
    const html = await page('local');
    expect(html.type).toMatch(/^text\/html/);
    expect(html.text).toContain('cached_page-1.0-py3-none-any.whl');
    expect(html.etag).toBe(`"${createHash('sha256').update(html.text).digest('hex')}"`);
    expect(await page('local')).toEqual(html);
    const json = await page('local', JSON_V1);
    expect(json.type).toBe(JSON_V1);
    expect(versionsOf(json.text)).toEqual(['1.0']);
    expect((await page('local', JSON_V1)).text).toBe(json.text);
    expect(await renders()).toBe(before + 2);
    expect((await host.fetch('/local/simple/cached-page/', { headers: { 'if-none-match': html.etag } })).status).toBe(304);

    await upload(host, 'local', token, '1.1');
    expect(versionsOf((await page('local', JSON_V1)).text)).toEqual(['1.0', '1.1']);
    expect((await page('local')).text).toContain('cached_page-1.1-py3-none-any.whl');
  });

  it('renders a proxy\'s page and a group\'s once per revision of what they show, and new versions show at once', async () => {
    await upload(origin, 'origin', originToken, '0.9', 'upstream-page');
    const proxied = await page('remote', JSON_V1, 'upstream-page');
    expect(versionsOf(proxied.text)).toEqual(['0.9']);
    // File URLs are the proxy's own.
    expect(proxied.text).toContain(host.repositoryUrl('remote'));
    const before = await renders();
    expect((await page('remote', JSON_V1, 'upstream-page')).text).toBe(proxied.text);
    expect(await renders()).toBe(before);

    // Through the group: the proxy's page (the name no hosted member has), its URLs the group's.
    const grouped = await page('all', JSON_V1, 'upstream-page');
    expect(versionsOf(grouped.text)).toEqual(['0.9']);
    expect(grouped.text).toContain(host.repositoryUrl('all'));
    expect(grouped.text).not.toContain(host.repositoryUrl('remote'));
    expect((await page('all', JSON_V1, 'upstream-page')).text).toBe(grouped.text);
    expect(await renders()).toBe(before + 1);
    // A version the upstream has since shows at once (the proxy revalidates: TTL 0).
    await upload(origin, 'origin', originToken, '0.9.1', 'upstream-page');
    expect(versionsOf((await page('all', JSON_V1, 'upstream-page')).text)).toEqual(['0.9', '0.9.1']);
    expect(versionsOf((await page('remote', JSON_V1, 'upstream-page')).text)).toEqual(['0.9', '0.9.1']);

    // The hosted member's project through the group, and an upload to it, at once.
    const hosted = await page('all', JSON_V1);
    expect(versionsOf(hosted.text)).toEqual(['1.0', '1.1']);
    expect(hosted.text).toContain(host.repositoryUrl('all'));
    await upload(host, 'local', token, '1.2');
    expect(versionsOf((await page('all', JSON_V1)).text)).toEqual(['1.0', '1.1', '1.2']);
  });
});
