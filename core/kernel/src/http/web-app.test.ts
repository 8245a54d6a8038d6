import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostRouter } from './host-router.js';
import { WebAppHost } from './web-app.js';

describe('WebAppHost', () => {
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    const root = path.join(tmpdir(), `rc-web-app-${process.pid}`);
    const app = path.join(root, 'app');
    mkdirSync(path.join(app, 'assets'), { recursive: true });
    writeFileSync(path.join(app, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(path.join(app, 'assets', 'main-abc.js'), 'console.log(1)');
    writeFileSync(path.join(root, 'secret.txt'), 'not served');
    const router = new HostRouter();
    new WebAppHost({ id: 'web', directory: app }, '/ui/').mount(router);
    const koa = new Koa();
    koa.use(router.middleware());
    server = http.createServer(koa.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('serves the page at its prefix and hashed files as immutable, each with the security headers', async () => {
    const page = await fetch(`${base}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const bare = await fetch(`${base}/ui?q=x`, { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/ui/?q=x');
    const script = await fetch(`${base}/-/web/assets/main-abc.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.headers.get('cache-control')).toContain('immutable');
  });

  it('serves nothing outside the app folder', async () => {
    for (const p of ['/-/web/..%2fsecret.txt', '/-/web/%2e%2e/secret.txt', '/-/web/assets/..%2f..%2fsecret.txt', '/-/web/', '/-/web/assets']) {
      const answer = await fetch(`${base}${p}`);
      expect(answer.status, p).toBe(404);
      expect(await answer.text(), p).not.toContain('not served');
    }
  });
});
