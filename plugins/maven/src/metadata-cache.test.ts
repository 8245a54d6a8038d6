import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestHost, type TestHost } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

// maven-metadata.xml is rendered once per revision of the documents it is built from (and
// per variant: the XML, each checksum), kept by the kernel's derived memory: `/-/stats`
// counts the renderings (`derived.renders`).
describe('Maven metadata rendered once per revision', () => {
  let host: TestHost;
  let token: string;

  beforeAll(async () => {
    host = await createTestHost({
      plugins: [plugin],
      repositories: {
        releases: { format: 'maven', type: 'hosted', versionPolicy: 'release' },
        snapshots: { format: 'maven', type: 'hosted', versionPolicy: 'snapshot' },
        public: { format: 'maven', type: 'group', members: ['releases', 'snapshots'] },
      },
    });
    token = await host.userToken('dev');
  });

  afterAll(async () => {
    await host?.stop();
  });

  const renders = async () => ((await (await host.fetch('/-/stats')).json()) as { derived: { renders: number } }).derived.renders;
  const deploy = async (repository: string, file: string) => expect((await host.fetch(`/${repository}/com/example/lib/${file}`, { method: 'PUT', body: `bytes of ${file}`, token })).status).toBe(201);
  const read = async (repository: string, suffix = '') => {
    const answer = await host.fetch(`/${repository}/com/example/lib/maven-metadata.xml${suffix}`);
    expect(answer.status).toBe(200);
    return { text: await answer.text(), etag: answer.headers.get('etag')!, type: answer.headers.get('content-type') };
  };
  const versions = (xml: string) => [...xml.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);

  it('renders a hosted folder\'s metadata and its checksum once, serves them again from memory with their ETag, and a deploy changes them at once', async () => {
    await deploy('releases', '1.0/lib-1.0.jar');
    const before = await renders();
    const first = await read('releases');
    expect(versions(first.text)).toEqual(['1.0']);
    expect(first.type).toMatch(/^text\/xml/);
    expect(first.etag).toBe(`"${createHash('sha256').update(first.text).digest('hex')}"`);
    expect(await renders()).toBe(before + 1);
    const second = await read('releases');
    expect(second).toEqual(first);
    expect(await renders()).toBe(before + 1);
    // The checksum is a variant of its own: rendered once, then kept.
    const checksum = await read('releases', '.sha1');
    expect(checksum.text).toBe(sha1(first.text));
    expect(checksum.type).toMatch(/^text\/plain/);
    expect((await read('releases', '.sha1')).text).toBe(checksum.text);
    expect(await renders()).toBe(before + 2);
    // The ETag answers a conditional request with a 304.
    const conditional = await host.fetch('/releases/com/example/lib/maven-metadata.xml', { headers: { 'if-none-match': first.etag } });
    expect(conditional.status).toBe(304);

    // A deploy is a new revision: the next read shows it, on this node, at once.
    await deploy('releases', '2.0/lib-2.0.jar');
    const after = await read('releases');
    expect(versions(after.text)).toEqual(['1.0', '2.0']);
    expect(after.etag).not.toBe(first.etag);
    expect((await read('releases', '.sha1')).text).toBe(sha1(after.text));
    expect((await host.fetch('/releases/com/example/lib/maven-metadata.xml', { headers: { 'if-none-match': first.etag } })).status).toBe(200);
  });

  it('renders a group\'s merge of its members once per revision of each, and a member\'s deploy changes it at once', async () => {
    await deploy('snapshots', '3.0-SNAPSHOT/lib-3.0-20240101.120000-1.jar');
    const before = await renders();
    const first = await read('public');
    expect(versions(first.text)).toEqual(['1.0', '2.0', '3.0-SNAPSHOT']);
    expect((await read('public')).text).toBe(first.text);
    expect(await renders()).toBe(before + 1);
    await deploy('releases', '2.5/lib-2.5.jar');
    const after = await read('public');
    expect(versions(after.text)).toEqual(['1.0', '2.0', '2.5', '3.0-SNAPSHOT']);
    expect(await renders()).toBe(before + 2);
    // The SNAPSHOT version's own metadata (another document of the member) is kept apart.
    const snapshot = await host.fetch('/public/com/example/lib/3.0-SNAPSHOT/maven-metadata.xml');
    expect(await snapshot.text()).toContain('<value>3.0-20240101.120000-1</value>');
    await deploy('snapshots', '3.0-SNAPSHOT/lib-3.0-20240102.120000-2.jar');
    const newer = await host.fetch('/public/com/example/lib/3.0-SNAPSHOT/maven-metadata.xml');
    expect(await newer.text()).toContain('<value>3.0-20240102.120000-2</value>');
  });
});
