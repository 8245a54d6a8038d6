// A node killed with SIGKILL in the middle of a cache fill and of an upload, with another
// node on the same PostgreSQL and blob store (a folder, then an S3-compatible server):
// nothing partial becomes visible, the dead node's locks go with its connection, and the
// other node keeps serving.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startPostgres, type TestPostgres } from '@registry-core/testing';
import { blobBackends } from '../helpers/blob-backends.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserAndToken, repoRoot, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

const plugin = path.join(repoRoot, 'examples', 'raw-format-plugin');
const SIZE = 8 * 1024 * 1024;

describe.each(Object.keys(blobBackends))('a node dying mid-write, on %s', (backendName) => {
  const backend = blobBackends[backendName]!();
  let postgres: TestPostgres;
  let origin: Server;
  let hits = 0;
  /** While true, the origin sends half of the body and then stalls. */
  let stall = true;
  let config: string;
  let survivor: RunningRegistry;

  beforeAll(async () => {
    postgres = await startPostgres();
    origin = createServer((req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': SIZE });
      res.write(Buffer.alloc(SIZE / 2, 1));
      if (!stall) res.end(Buffer.alloc(SIZE / 2, 2));
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', () => resolve()));
    config = `
plugins: ["${plugin}"]
metadata: { type: postgres, url: "${await postgres.createDatabase('deaths')}" }
storage:
  default: ${await backend.storage()}
repositories:
  files: { format: raw, type: hosted }
  mirror: { format: raw, type: proxy, upstream: "http://127.0.0.1:${(origin.address() as AddressInfo).port}/" }
`;
    survivor = await startRegistry(config);
  }, 120_000);

  afterAll(async () => {
    await survivor?.stop();
    origin?.closeAllConnections();
    origin?.close();
    await postgres?.stop();
    await backend.stop();
  });

  it('leaves no partial cache entry and no held lock when the filling node is killed', async () => {
    const victim = await startRegistry(config);
    // A client on the victim starts the fill; the origin stalls half way.
    const started = new Promise<void>((resolve) => {
      httpRequest(`${victim.url}/mirror/big.bin`, (res) => {
        res.once('data', () => resolve());
        res.on('error', () => undefined);
      })
        .on('error', () => undefined)
        .end();
    });
    await started;
    expect(hits).toBe(1);
    victim.process.kill('SIGKILL');
    await new Promise((r) => victim.process.once('exit', r));
    // The survivor is not blocked by the dead node's lock, stores nothing partial, and
    // fetches the file whole.
    stall = false;
    const answer = await fetch(`${survivor.url}/mirror/big.bin`);
    expect(answer.status).toBe(200);
    const body = Buffer.from(await answer.arrayBuffer());
    expect(body.length).toBe(SIZE);
    expect(body[SIZE - 1]).toBe(2);
    expect(hits).toBe(2);
    const verify = await runCli(['cache', 'verify', '--config', survivor.configFile]);
    expect(verify.stdout).toMatch(/checked 1 assets, 0 bad/);
  });

  it('leaves nothing visible when the node taking an upload is killed', async () => {
    const victim = await startRegistry(config);
    const token = await createUserAndToken(victim.configFile, 'uploader');
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${victim.url}/files/partial.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-length': SIZE } });
      req.on('error', () => undefined);
      req.write(Buffer.alloc(SIZE / 2, 3), () => resolve());
    });
    // Half of the body is on its way (written to the socket): kill the node taking it.
    victim.process.kill('SIGKILL');
    await new Promise((r) => victim.process.once('exit', r));
    expect((await fetch(`${survivor.url}/files/partial.bin`)).status).toBe(404);
    // And the path takes a complete upload through the survivor.
    const put = await fetch(`${survivor.url}/files/partial.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: Buffer.alloc(1024, 4) });
    expect(put.status).toBe(201);
    expect((await (await fetch(`${survivor.url}/files/partial.bin`)).arrayBuffer()).byteLength).toBe(1024);
  });
});
