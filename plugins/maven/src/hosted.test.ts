import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestHost, type TestHost } from '@registry-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sha1 = (bytes: string) => createHash('sha1').update(bytes).digest('hex');

describe('Maven deploys to a hosted repository', () => {
  let host: TestHost;
  let token: string;

  beforeAll(async () => {
    host = await createTestHost({ plugins: [plugin], repositories: { releases: { format: 'maven', type: 'hosted', versionPolicy: 'release' } } });
    token = await host.userToken('dev');
  });

  afterAll(async () => {
    await host?.stop();
  });

  const put = (file: string, body: string) => host.fetch(`/releases/com/example/lib/1.0/${file}`, { method: 'PUT', body, token });

  it('drops a checksum sent before its file once the file is refused for it, so that a deploy in mvn order can follow', async () => {
    // A client that sends checksums first sends a wrong one: the file is refused for it ...
    expect((await put('lib-1.0.jar.sha1', sha1('what the client meant to send'))).status).toBe(201);
    expect((await put('lib-1.0.jar', 'the jar')).status).toBe(400);
    expect((await host.fetch('/releases/com/example/lib/1.0/lib-1.0.jar')).status).toBe(404);
    // ... and deploying again as mvn does (the file, then its checksum) works.
    expect((await put('lib-1.0.jar', 'the jar')).status).toBe(201);
    expect((await put('lib-1.0.jar.sha1', sha1('the jar'))).status).toBe(201);
    const served = await host.fetch('/releases/com/example/lib/1.0/lib-1.0.jar.sha1');
    expect(await served.text()).toBe(sha1('the jar'));
  });

  it('still checks a file against a checksum sent before it', async () => {
    const file = (name: string) => `/releases/com/example/lib/2.0/${name}`;
    expect((await host.fetch(file('lib-2.0.jar.sha1'), { method: 'PUT', body: sha1('the 2.0 jar'), token })).status).toBe(201);
    expect((await host.fetch(file('lib-2.0.jar'), { method: 'PUT', body: 'the 2.0 jar', token })).status).toBe(201);
    expect(await (await host.fetch(file('lib-2.0.jar.sha1'))).text()).toBe(sha1('the 2.0 jar'));
  });
});
