// Hostile and mistaken deploys to a hosted Maven repository: each gets a clear 4xx, and
// what the repository serves afterwards is exactly what it served before (every file of
// every folder, metadata included, compared byte for byte).
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserAndToken, rawRequest, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const sha1 = (bytes: Buffer | string) => createHash('sha1').update(bytes).digest('hex');
const md5 = (bytes: Buffer | string) => createHash('md5').update(bytes).digest('hex');

const pom = (groupId: string, artifactId: string, version: string) =>
  `<?xml version="1.0"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></project>\n`;

describe('Maven deploys that are refused', () => {
  let node: RunningRegistry;
  let auth: string;

  const put = (path: string, body: string | Buffer, headers: Record<string, string> = { authorization: auth }) => rawRequest(node.url, path, { method: 'PUT', headers, body });

  /** Every file the repository serves under `folder`, by path: its bytes' sha1 (walks the HTML listings). */
  async function served(repository: string): Promise<Record<string, string>> {
    const files: Record<string, string> = {};
    const walk = async (folder: string) => {
      const page = await fetch(`${node.url}/${repository}/${folder}`);
      if (page.status === 404 && folder === '') return;
      expect(page.status, folder).toBe(200);
      for (const [, href] of (await page.text()).matchAll(/<a href="([^"]+)">/g)) {
        if (href === '../') continue;
        if (href!.endsWith('/')) await walk(`${folder}${href}`);
        else {
          const file = await fetch(`${node.url}/${repository}/${folder}${href}`);
          files[`${folder}${href}`] = `${file.status} ${sha1(Buffer.from(await file.arrayBuffer()))}`;
        }
      }
    };
    await walk('');
    return files;
  }

  beforeAll(async () => {
    node = await startRegistry(`auth:
  permissions:
    - { repositories: [releases, group], packages: ["com.example.secret:*"], read: [dev] }
repositories:
  releases: { format: maven, type: hosted, versionPolicy: release }
  snapshots: { format: maven, type: hosted, versionPolicy: snapshot }
  mixed: { format: maven, type: hosted, allowRedeploy: true }
  proxy: { format: maven, type: proxy, upstream: "http://127.0.0.1:9/" }
  group: { format: maven, type: group, members: [releases, snapshots] }
`);
    const token = await createUserAndToken(node.configFile, 'dev');
    auth = `Basic ${Buffer.from(`dev:${token}`).toString('base64')}`;
    // What is there before: a release with its POM, jar and checksums.
    const jar = 'jar bytes 1.0';
    for (const [file, body] of [
      ['lib-1.0.pom', pom('com.example', 'lib', '1.0')],
      ['lib-1.0.jar', jar],
      ['lib-1.0.jar.sha1', sha1(jar)],
      ['lib-1.0.jar.md5', `${md5(jar)}  lib-1.0.jar`],
    ] as const) {
      const answer = await put(`/releases/com/example/lib/1.0/${file}`, body);
      expect(answer.status, `${file}: ${answer.body}`).toBe(201);
    }
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
  });

  it('asks for credentials with a Basic challenge, as Maven needs before it sends them', async () => {
    const before = await served('releases');
    expect(Object.keys(before).sort()).toEqual(['com/example/lib/1.0/lib-1.0.jar', 'com/example/lib/1.0/lib-1.0.pom', 'com/example/lib/maven-metadata.xml']);
    expect(Object.values(before).every((v) => v.startsWith('200 '))).toBe(true);
    const anonymous = await put('/releases/com/example/lib/1.1/lib-1.1.jar', 'x', {});
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm=/);
    const wrong = await put('/releases/com/example/lib/1.1/lib-1.1.jar', 'x', { authorization: `Basic ${Buffer.from('dev:wrong').toString('base64')}` });
    expect(wrong.status).toBe(401);
    expect(await served('releases')).toEqual(before);
  });

  it('refuses traversal and characters no Maven path has, before anything reaches storage', async () => {
    const before = await served('releases');
    for (const path of [
      '/releases/com/example/%2e%2e/%2e%2e/etc/x/1.0/x-1.0.jar',
      '/releases/com/example/../../x/1.0/x-1.0.jar',
      '/releases/com/example/lib%2f..%2f..%2fx/1.0/x-1.0.jar',
      '/releases/com/example/lib/1.0/..%5c..%5clib-1.0.jar',
      '/releases/com/example/lib/1.0/lib-1.0.jar%00.txt',
      '/releases/com/example/lib/1.0/lib%201.0.jar',
      '/releases/com//lib/1.0/lib-1.0.jar',
    ]) {
      const answer = await put(path, 'evil');
      expect(answer.status, path).toBeGreaterThanOrEqual(400);
      expect(answer.status, path).toBeLessThan(500);
      expect(answer.status, path).not.toBe(201);
    }
    const encoded = await put('/releases/com/example/%2e%2e/x/1.0/x-1.0.jar', 'evil');
    expect(encoded.status).toBe(400);
    expect(encoded.body).toMatch(/not allowed/);
    expect((await rawRequest(node.url, '/releases/com/example/%2e%2e/lib/1.0/lib-1.0.jar')).status).toBe(400);
    expect(await served('releases')).toEqual(before);
  });

  it('refuses checksum sidecars that disagree with the bytes, either way round', async () => {
    const before = await served('releases');
    const wrong = await put('/releases/com/example/lib/1.0/lib-1.0.jar.sha1', '0'.repeat(40));
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatch(/does not match|but the deployed file/);
    expect((await put('/releases/com/example/lib/1.0/lib-1.0.jar.sha256', 'not a checksum')).status).toBe(400);
    expect((await put('/releases/com/example/lib/1.0/lib-1.0.jar.md5', sha1('x'))).status).toBe(400);
    // The checksum first (as some clients send it), then bytes that do not match it.
    expect((await put('/releases/com/example/lib/1.2/lib-1.2.jar.sha1', sha1('the real bytes'))).status).toBe(201);
    const mismatched = await put('/releases/com/example/lib/1.2/lib-1.2.jar', 'other bytes');
    expect(mismatched.status).toBe(400);
    expect(mismatched.body).toMatch(/does not match the checksum/);
    expect((await fetch(`${node.url}/releases/com/example/lib/1.2/lib-1.2.jar`)).status).toBe(404);
    // The served sidecar is still the file's own.
    expect(await (await fetch(`${node.url}/releases/com/example/lib/1.0/lib-1.0.jar.sha1`)).text()).toBe(sha1('jar bytes 1.0'));
    expect(await served('releases')).toEqual(before);
  });

  it('refuses to redeploy a release unless the repository allows it', async () => {
    const before = await served('releases');
    const again = await put('/releases/com/example/lib/1.0/lib-1.0.jar', 'different bytes');
    expect(again.status).toBe(409);
    expect(again.body).toMatch(/cannot be redeployed/);
    expect((await put('/releases/com/example/lib/1.0/lib-1.0.pom', '<project><artifactId>lib</artifactId><description>another POM</description></project>')).status).toBe(409);
    // The same bytes again (a deploy retried after a crash) are taken, changing nothing.
    expect((await put('/releases/com/example/lib/1.0/lib-1.0.jar', 'jar bytes 1.0')).status).toBe(201);
    expect(await (await fetch(`${node.url}/releases/com/example/lib/1.0/lib-1.0.jar`)).text()).toBe('jar bytes 1.0');
    expect(await served('releases')).toEqual(before);
    // allowRedeploy: true replaces it.
    expect((await put('/mixed/com/example/lib/1.0/lib-1.0.jar', 'first')).status).toBe(201);
    expect((await put('/mixed/com/example/lib/1.0/lib-1.0.jar', 'second')).status).toBe(201);
    const replaced = await fetch(`${node.url}/mixed/com/example/lib/1.0/lib-1.0.jar`);
    expect(await replaced.text()).toBe('second');
    // What may be replaced is not announced as immutable; what may not, is.
    expect(replaced.headers.get('cache-control')).not.toMatch(/immutable/);
    expect((await fetch(`${node.url}/mixed/com/example/lib/1.0/lib-1.0.jar.sha1`)).headers.get('cache-control')).not.toMatch(/immutable/);
    expect((await fetch(`${node.url}/releases/com/example/lib/1.0/lib-1.0.jar`)).headers.get('cache-control')).toMatch(/immutable/);
  });

  it('refuses a POM that is not XML, and coordinates that do not match the path', async () => {
    const before = await served('releases');
    const cases: [string, string, RegExp][] = [
      ['/releases/com/example/bad/1.0/bad-1.0.pom', '{"this": "is not XML"}', /not well-formed XML/],
      ['/releases/com/example/bad/1.0/bad-1.0.pom', '<!DOCTYPE project [<!ENTITY x SYSTEM "file:///etc/passwd">]><project>&x;</project>', /DOCTYPE/],
      ['/releases/com/example/bad/1.0/bad-1.0.pom', '<metadata/>', /<project> root/],
      ['/releases/com/example/bad/1.0/bad-1.0.pom', pom('com.other', 'bad', '1.0'), /groupId com\.other is not com\.example/],
      ['/releases/com/example/bad/1.0/bad-1.0.pom', pom('com.example', 'other', '1.0'), /artifactId other is not bad/],
      ['/releases/com/example/bad/1.0/bad-1.0.pom', pom('com.example', 'bad', '2.0'), /version 2\.0 is not 1\.0/],
      ['/releases/com/example/bad/1.0/other-1.0.jar', 'bytes', /does not name an artifact/],
      ['/releases/com/example/bad/1.0/bad-1.1.jar', 'bytes', /does not name an artifact/],
      ['/releases/bad-1.0.jar', 'bytes', /does not name an artifact/],
      ['/releases/com/example/bad/maven-metadata.xml', 'not xml', /not well-formed XML/],
      ['/releases/com/example/bad/maven-metadata.xml', '<metadata><groupId>com.other</groupId><artifactId>bad</artifactId></metadata>', /not the artifact its path names/],
      ['/releases/com/example/bad/1.0-SNAPSHOT/bad-1.0-20240101.120000-1.jar', 'bytes', /release versions only/],
      ['/snapshots/com/example/bad/1.0/bad-1.0.jar', 'bytes', /SNAPSHOT versions only/],
      [
        '/releases/com/example/bad/1.0-SNAPSHOT/maven-metadata.xml',
        '<metadata><groupId>com.example</groupId><artifactId>bad</artifactId><version>1.0-SNAPSHOT</version><versioning><snapshot><timestamp>20240101.120000</timestamp><buildNumber>1</buildNumber></snapshot></versioning></metadata>',
        /release versions only/,
      ],
      [
        '/snapshots/com/example/bad/1.0-SNAPSHOT/maven-metadata.xml',
        '<metadata><groupId>com.example</groupId><artifactId>bad</artifactId><version>2.0-SNAPSHOT</version><versioning><snapshot><timestamp>20240101.120000</timestamp><buildNumber>1</buildNumber></snapshot></versioning></metadata>',
        /not com\.example:bad:1\.0-SNAPSHOT/,
      ],
    ];
    for (const [path, body, message] of cases) {
      const answer = await put(path, body);
      expect(answer.status, `${path}: ${answer.body}`).toBe(400);
      expect(answer.body, path).toMatch(message);
    }
    expect((await fetch(`${node.url}/releases/com/example/bad/1.0/bad-1.0.pom`)).status).toBe(404);
    expect((await fetch(`${node.url}/releases/com/example/bad/maven-metadata.xml`)).status).toBe(404);
    expect(await served('releases')).toEqual(before);
    expect(await served('snapshots')).toEqual({});
  });

  it('keeps the plugin prefixes of group-level metadata, and only those, from a deploy', async () => {
    const plugins = '<metadata><plugins><plugin><name>Demo</name><prefix>demo</prefix><artifactId>demo-maven-plugin</artifactId></plugin></plugins></metadata>';
    expect((await put('/releases/com/example/plugins/maven-metadata.xml', plugins)).status).toBe(201);
    const served = await (await fetch(`${node.url}/releases/com/example/plugins/maven-metadata.xml`)).text();
    expect(served).toMatch(/<plugin>\s*<name>Demo<\/name>\s*<prefix>demo<\/prefix>\s*<artifactId>demo-maven-plugin<\/artifactId>\s*<\/plugin>/);
    expect(await (await fetch(`${node.url}/group/com/example/plugins/maven-metadata.xml`)).text()).toBe(served);
    const other = '<metadata><groupId>com.other</groupId><plugins><plugin><prefix>x</prefix><artifactId>x-maven-plugin</artifactId></plugin></plugins></metadata>';
    expect((await put('/releases/com/example/plugins/maven-metadata.xml', other)).status).toBe(400);
    // Versions a client lists are not taken: the artifact's metadata stays what was deployed.
    const lies = '<metadata><groupId>com.example</groupId><artifactId>lib</artifactId><versioning><versions><version>1.0</version><version>6.6.6</version></versions></versioning></metadata>';
    expect((await put('/releases/com/example/lib/maven-metadata.xml', lies)).status).toBe(201);
    const metadata = await (await fetch(`${node.url}/releases/com/example/lib/maven-metadata.xml`)).text();
    expect(metadata).toContain('<version>1.0</version>');
    expect(metadata).not.toContain('6.6.6');
  });

  it('applies read rules to files and to version lists alike', async () => {
    const jar = 'secret jar';
    expect((await put('/releases/com/example/secret/hidden/1.0/hidden-1.0.jar', jar)).status).toBe(201);
    for (const path of ['/releases/com/example/secret/hidden/1.0/hidden-1.0.jar', '/releases/com/example/secret/hidden/1.0/hidden-1.0.jar.sha1', '/releases/com/example/secret/hidden/maven-metadata.xml', '/group/com/example/secret/hidden/maven-metadata.xml']) {
      expect((await fetch(`${node.url}${path}`)).status, path).toBe(401);
      expect((await fetch(`${node.url}${path}`, { headers: { authorization: auth } })).status, path).toBe(200);
    }
    expect(await (await fetch(`${node.url}/group/com/example/secret/hidden/1.0/hidden-1.0.jar`, { headers: { authorization: auth } })).text()).toBe(jar);
  });

  it('refuses deploys to a proxy, and sends a group\'s to the hosted member its version fits', async () => {
    expect((await put('/proxy/com/example/lib/1.0/lib-1.0.jar', 'x')).status).toBe(405);
    const snapshot = await put('/group/com/example/lib/2.0-SNAPSHOT/lib-2.0-20240101.120000-1.jar', 'snapshot bytes');
    expect(snapshot.status).toBe(201);
    expect(await (await fetch(`${node.url}/snapshots/com/example/lib/2.0-SNAPSHOT/lib-2.0-20240101.120000-1.jar`)).text()).toBe('snapshot bytes');
    expect((await fetch(`${node.url}/releases/com/example/lib/2.0-SNAPSHOT/lib-2.0-20240101.120000-1.jar`)).status).toBe(404);
    // A group's refusal is the member's: a release redeployed through the group.
    const again = await put('/group/com/example/lib/1.0/lib-1.0.jar', 'x');
    expect(again.status).toBe(409);
  });
});
