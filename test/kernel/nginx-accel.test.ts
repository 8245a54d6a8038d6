// nginx in front of registry-core, handing stored files to nginx with X-Accel-Redirect
// (the fs driver's `accelRedirect` and the snippet in docs/nginx.md), against a real nginx.
import { createHash } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, type RunningNginx } from '../helpers/nginx.js';
import { createUserAndToken, repoRoot, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');

describe('X-Accel-Redirect hand-off to nginx', () => {
  let registry: RunningRegistry;
  let nginx: RunningNginx;
  const file = randomBytes(300_000);

  beforeAll(async () => {
    registry = await startRegistry(`
plugins: ["${plugin}"]
storage:
  default: { driver: fs, path: ./blobs, accelRedirect: "/_registry_blobs/" }
repositories:
  files: { format: raw, type: hosted }
`);
    const blobs = path.join(registry.dir, 'blobs');
    // The snippet of docs/nginx.md, with this test's addresses.
    nginx = await startNginx(
      () => `
    client_max_body_size 0;
    location / {
      proxy_pass ${registry.url};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Registry-Core-Accel on;
      proxy_request_buffering off;
      proxy_buffering off;
    }
    location /_registry_blobs/ {
      internal;
      alias ${blobs}/;
      add_header X-Cache $upstream_http_x_cache always;
      add_header X-Request-Id $upstream_http_x_request_id always;
    }
`,
    );
    const token = await createUserAndToken(registry.configFile, 'uploader');
    const put = await fetch(`${nginx.url}/files/dist/app.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: file });
    expect(put.status).toBe(201);
  });
  afterAll(async () => {
    await nginx?.stop();
    await registry?.stop();
  });

  it('lets nginx send the bytes, with the registry choosing what and with which headers', async () => {
    const answer = await fetch(`${nginx.url}/files/dist/app.bin`);
    expect(answer.status).toBe(200);
    const body = Buffer.from(await answer.arrayBuffer());
    expect(createHash('sha256').update(body).digest('hex')).toBe(createHash('sha256').update(file).digest('hex'));
    expect(answer.headers.get('x-accel-redirect')).toBeNull();
    expect(answer.headers.get('content-length')).toBe(String(file.length));
    expect(answer.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(answer.headers.get('content-type')).toBe('application/octet-stream');
    expect(answer.headers.get('x-request-id')).toBeTruthy();
  });

  it('serves ranges through nginx', async () => {
    const answer = await fetch(`${nginx.url}/files/dist/app.bin`, { headers: { range: 'bytes=1000-1999' } });
    expect(answer.status).toBe(206);
    expect(Buffer.from(await answer.arrayBuffer()).equals(file.subarray(1000, 2000))).toBe(true);
  });

  it('still checks permissions and answers errors itself', async () => {
    const missing = await fetch(`${nginx.url}/files/dist/none.bin`);
    expect(missing.status).toBe(404);
    // The internal location is not reachable from outside.
    expect((await fetch(`${nginx.url}/_registry_blobs/`)).status).toBe(404);
  });

  it('streams the bytes itself to a client that did not come through nginx', async () => {
    const direct = await fetch(`${registry.url}/files/dist/app.bin`);
    expect(direct.headers.get('x-accel-redirect')).toBeNull();
    expect(Buffer.from(await direct.arrayBuffer()).equals(file)).toBe(true);
    const marked = await fetch(`${registry.url}/files/dist/app.bin`, { headers: { 'x-registry-core-accel': 'on' } });
    expect(marked.headers.get('x-accel-redirect')).toMatch(/^\/_registry_blobs\/sha256\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
    expect((await marked.arrayBuffer()).byteLength).toBe(0);
  });
});
