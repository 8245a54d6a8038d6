// Apache Ivy (Debian's ivy with ant) against the Maven format, with Ivy's defaults: a module
// resolves its dependency through the group (from a proxy of a plain Maven 2 server), is
// published to the hosted repository by `ivy:publish` (no overwrite: Ivy asks whether each
// file and each checksum exists before it puts it; the Ivy descriptor published beside the
// jar), and a second module resolves it back through the group.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ant, writeIvyProject } from '../helpers/ivy.js';
import { LOCAL_M2, serveMavenFolder } from '../helpers/maven.js';
import { createUserAndToken, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

describe('Maven with Ivy', () => {
  let central: Awaited<ReturnType<typeof serveMavenFolder>>;
  let node: RunningRegistry;
  let token: string;

  beforeAll(async () => {
    central = await serveMavenFolder(LOCAL_M2);
    node = await startRegistry(`repositories:
  maven-local: { format: maven, type: hosted, versionPolicy: release }
  central-proxy: { format: maven, type: proxy, upstream: "${central.url}" }
  maven: { format: maven, type: group, members: [maven-local, central-proxy] }
`);
    token = await createUserAndToken(node.configFile, 'dev');
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await central?.close();
  });

  const project = (module: string, dependencies: { org: string; name: string; rev: string }[]) => {
    const dir = tempDir(`ivy-${module}`);
    writeIvyProject(dir, { organisation: 'com.example.ivy', module, revision: '1.0', dependencies }, {
      resolveRoot: `${node.url}/maven/`,
      publishRoot: `${node.url}/maven-local/`,
      credentials: { user: 'dev', password: token },
      realm: 'registry-core/maven-local',
    });
    return dir;
  };

  it('publishes a module with ivy:publish defaults and resolves it back through the group', async () => {
    const greeter = project('greeter', [{ org: 'org.apache.commons', name: 'commons-lang3', rev: '3.12.0' }]);
    const published = await ant(greeter, ['publish']);
    expect(published.code, published.output).toBe(0);
    expect(published.output).toContain('published greeter to');
    expect(readFileSync(path.join(greeter, 'lib', 'commons-lang3-3.12.0.jar')).equals(readFileSync(path.join(LOCAL_M2, 'org/apache/commons/commons-lang3/3.12.0/commons-lang3-3.12.0.jar')))).toBe(true);

    // The descriptor is stored as Ivy delivered it; the jar with the checksums Ivy deployed.
    const descriptor = await fetch(`${node.url}/maven/com/example/ivy/greeter/1.0/ivy-1.0.xml`);
    expect(descriptor.status).toBe(200);
    expect(Buffer.from(await descriptor.arrayBuffer()).equals(readFileSync(path.join(greeter, 'build', 'ivy-1.0.xml')))).toBe(true);
    const jarSha1 = await fetch(`${node.url}/maven/com/example/ivy/greeter/1.0/greeter-1.0.jar.sha1`, { method: 'HEAD' });
    expect(jarSha1.status).toBe(200);

    // A second module resolves it through the group by its Ivy descriptor, dependencies included.
    const consumer = project('consumer', [{ org: 'com.example.ivy', name: 'greeter', rev: '1.0' }]);
    const resolved = await ant(consumer, ['resolve']);
    expect(resolved.code, resolved.output).toBe(0);
    expect(resolved.output).toMatch(/found com\.example\.ivy#greeter;1\.0 in registry-ivy/);
    expect(readFileSync(path.join(consumer, 'lib', 'greeter-1.0.jar')).equals(readFileSync(path.join(greeter, 'build', 'greeter-1.0.jar')))).toBe(true);
    expect(readdirSync(path.join(consumer, 'lib'))).toContain('commons-lang3-3.12.0.jar');

    // Publishing the same release again is refused by Ivy itself (the jar exists), and
    // nothing stored changes.
    const again = await ant(greeter, ['publish']);
    expect(again.code).not.toBe(0);
    expect(again.output).toContain('destination file exists and overwrite == false');
  });

  it('answers HEAD of a checksum nobody deployed with 404 and computes it on GET', async () => {
    const auth = { authorization: `Basic ${Buffer.from(`dev:${token}`).toString('base64')}` };
    const jar = Buffer.from('not really a jar');
    const base = `${node.url}/maven-local/com/example/plain/tool/2.0/tool-2.0.jar`;
    expect((await fetch(base, { method: 'PUT', body: jar, headers: auth })).status).toBe(201);
    expect((await fetch(`${base}.sha1`, { method: 'HEAD' })).status).toBe(404);
    const computed = await fetch(`${base}.sha1`);
    expect(computed.status).toBe(200);
    expect(await computed.text()).toBe(createHash('sha1').update(jar).digest('hex'));
    // Deployed, it exists for HEAD too.
    expect((await fetch(`${base}.sha1`, { method: 'PUT', body: createHash('sha1').update(jar).digest('hex'), headers: auth })).status).toBe(201);
    expect((await fetch(`${base}.sha1`, { method: 'HEAD' })).status).toBe(200);
    // The checksum of a file that is not there is not there either way.
    expect((await fetch(`${node.url}/maven-local/com/example/plain/tool/2.0/tool-2.0-sources.jar.sha1`)).status).toBe(404);
  });

  it('refuses an Ivy descriptor that names another module than its path', async () => {
    const auth = { authorization: `Basic ${Buffer.from(`dev:${token}`).toString('base64')}` };
    const wrong = await fetch(`${node.url}/maven-local/com/example/ivy/other/1.0/ivy-1.0.xml`, {
      method: 'PUT',
      headers: auth,
      body: '<ivy-module version="2.0"><info organisation="com.example.ivy" module="greeter" revision="1.0"/></ivy-module>',
    });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain("the Ivy descriptor's module greeter is not other");
    const notIvy = await fetch(`${node.url}/maven-local/com/example/ivy/other/1.0/ivy-1.0.xml`, { method: 'PUT', headers: auth, body: '<project/>' });
    expect(notIvy.status).toBe(400);
    expect((await fetch(`${node.url}/maven-local/com/example/ivy/other/1.0/ivy-1.0.xml`)).status).toBe(404);
  });
});
