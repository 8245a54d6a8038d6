// What a group answers when it cannot answer, driven by the real clients: a proxy member
// whose upstream is a port nothing listens on makes every format's group answer 502 with a
// message naming each member asked and how it failed (never a 404, never a bare "could not
// answer"), while another member that has the file still serves it; and a group's errors
// are its format's own (a duplicate `twine upload` through the PyPI group shows PyPI's words).
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveMavenFolder } from '../helpers/maven.js';
import { NpmClient } from '../helpers/npm-client.js';
import { skopeo, writeMultiArchLayout } from '../helpers/oci.js';
import { buildProject, twineUpload } from '../helpers/python.js';
import { createUserAndToken, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

/** A loopback port nothing listens on (taken, then let go). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** How a proxy member with a dead upstream fails: refused, or not asked while its breaker is open. */
const deadCause = (member: string) => new RegExp(`${member}: upstream http://127\\.0\\.0\\.1:\\d+ (failed: ECONNREFUSED|is not asked for \\d+ s after repeated failures)`);

describe('group errors', () => {
  let registry: RunningRegistry;
  let live: Awaited<ReturnType<typeof serveMavenFolder>>;
  let token: string;
  let dead: string;

  beforeAll(async () => {
    dead = `http://127.0.0.1:${await deadPort()}`;
    const folder = tempDir('maven-live');
    mkdirSync(path.join(folder, 'com', 'example', 'here', '1.0'), { recursive: true });
    writeFileSync(path.join(folder, 'com', 'example', 'here', '1.0', 'here-1.0.pom'), '<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>here</artifactId><version>1.0</version></project>\n');
    live = await serveMavenFolder(folder);
    registry = await startRegistry(`
auth: { anonymousRead: true }
repositories:
  npm-local: { format: npm, type: hosted }
  npm-proxy: { format: npm, type: proxy, upstream: "${dead}/" }
  npm: { format: npm, type: group, members: [npm-local, npm-proxy] }
  pypi-local: { format: pypi, type: hosted }
  pypi-proxy: { format: pypi, type: proxy, upstream: "${dead}/simple/" }
  # The duplicate-upload test publishes a new project while the proxy cannot be asked whether
  # its upstream serves the name: without a claim that publish is refused (fail closed).
  pypi: { format: pypi, type: group, members: [pypi-local, pypi-proxy], routing: { "rc-group-*": [pypi-local] } }
  oci-local: { format: oci, type: hosted }
  oci-proxy: { format: oci, type: proxy, upstream: "${dead}/" }
  oci: { format: oci, type: group, members: [oci-local, oci-proxy] }
  maven-local: { format: maven, type: hosted }
  maven-dead: { format: maven, type: proxy, upstream: "${dead}/" }
  maven-live: { format: maven, type: proxy, upstream: "${live.url}" }
  maven: { format: maven, type: group, members: [maven-local, maven-dead, maven-live] }
`);
    token = await createUserAndToken(registry.configFile, 'grace');
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    await live?.close();
  });

  it('npm: the group answers 502 naming the proxy and its cause, and npm prints it', async () => {
    const answer = await fetch(`${registry.url}/npm/rc-nowhere`);
    expect(answer.status).toBe(502);
    const body = (await answer.json()) as { error: string };
    expect(body.error).toMatch(/^no member of npm could answer for rc-nowhere: /);
    expect(body.error).toMatch(deadCause('npm-proxy'));
    const view = await new NpmClient(`${registry.url}/npm/`).npm(['view', 'rc-nowhere', 'version', '--fetch-retries=0']);
    expect(view.code).not.toBe(0);
    expect(view.stderr).toMatch(/502/);
    expect(view.stderr).toMatch(deadCause('npm-proxy'));
  });

  it('PyPI: the status line names the member and its cause', async () => {
    const answer = await fetch(`${registry.url}/pypi/simple/rc-nowhere/`);
    expect(answer.status).toBe(502);
    expect(answer.statusText).toMatch(deadCause('pypi-proxy'));
    expect(await answer.text()).toMatch(deadCause('pypi-proxy'));
  });

  it('OCI: a pull through the group is a 502 naming the proxy (skopeo sees a 502, not "manifest unknown")', async () => {
    const answer = await fetch(`${registry.url}/v2/oci/library/rc-nowhere/manifests/latest`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(answer.status).toBe(502);
    const body = (await answer.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]!.message).toMatch(/^no member of oci could answer for library\/rc-nowhere: /);
    expect(body.errors[0]!.message).toMatch(deadCause('oci-proxy'));
    const inspect = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://127.0.0.1:${registry.port}/oci/library/rc-nowhere:latest`]);
    expect(inspect.code).not.toBe(0);
    expect(inspect.stderr).toMatch(/502/);
    expect(inspect.stderr).not.toMatch(/manifest unknown|404/i);
  });

  it('OCI: a push through the group works while the proxy member cannot be asked (a blob check is not a pull)', async () => {
    const dir = tempDir('oci-push-layout');
    writeMultiArchLayout(dir, 'v1', 1);
    const pushed = await skopeo(['copy', '--all', '--dest-tls-verify=false', '--dest-creds', `grace:${token}`, `oci:${dir}:v1`, `docker://127.0.0.1:${registry.port}/oci/team/offline:v1`]);
    expect(pushed.code, pushed.stderr).toBe(0);
    const inspect = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://127.0.0.1:${registry.port}/oci/team/offline:v1`]);
    expect(inspect.code, inspect.stderr).toBe(0);
  });

  it('Maven: a file no live member has is a 502 naming each member; one the live proxy has is served', async () => {
    const missing = await fetch(`${registry.url}/maven/com/example/missing/1.0/missing-1.0.pom`);
    expect(missing.status).toBe(502);
    // mvn prints the status line's text: it says the same.
    expect(missing.statusText).toMatch(deadCause('maven-dead'));
    expect(missing.statusText).toMatch(/maven-live: not found/);
    expect(await missing.text()).toMatch(deadCause('maven-dead'));
    const here = await fetch(`${registry.url}/maven/com/example/here/1.0/here-1.0.pom`);
    expect(here.status).toBe(200);
    expect(here.headers.get('x-registry-member')).toBe('maven-live');
    expect(await here.text()).toContain('<artifactId>here</artifactId>');
  });

  it('never shows the upstream in a form with user information', async () => {
    const answer = await fetch(`${registry.url}/npm/rc-nowhere-either`);
    expect(await answer.text()).not.toMatch(/\/\/[^/\s"]*@/);
  });

  it('a duplicate twine upload through the PyPI group shows PyPI\'s message', async () => {
    const built = await buildProject({ name: 'rc-group-dup', version: '1.0.0', module: 'rc_group_dup' });
    const first = await twineUpload(`${registry.url}/pypi/`, '__token__', token, [built.wheel]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const again = await twineUpload(`${registry.url}/pypi/`, '__token__', token, [built.wheel]);
    expect(again.code).not.toBe(0);
    // twine prints the status code, its standard phrase, and then the answer's reason phrase.
    expect(again.stdout + again.stderr).toMatch(/400 Bad Request from \S+\/pypi\/\s+File already exists\./);
    const direct = await fetch(`${registry.url}/pypi/simple/rc-group-dup/`);
    expect(direct.status).toBe(200);
  });
});
