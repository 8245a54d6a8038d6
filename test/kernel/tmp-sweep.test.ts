// Temporary files of a killed process (publish spills, multipart upload parts) are removed
// when the server starts again, once older than `cleanup.tmpFileGraceSeconds`; younger
// ones (another node's in-flight files on shared storage) are left alone.
import { existsSync, readdirSync, utimesSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const CONFIG = `
repositories:
  npm-local: { format: npm, type: hosted }
  py: { format: pypi, type: hosted }
`;
const basic = `Basic ${Buffer.from('uploader:uploader-password').toString('base64')}`;

/** Start a request and send part of its body; the connection stays open. */
function startUpload(port: number, head: string, part: string): net.Socket {
  const socket = net.connect(port, '127.0.0.1', () => socket.write(`${head}\r\n\r\n${part}`));
  socket.on('error', () => undefined);
  return socket;
}

describe('temporary files of a killed server', () => {
  const dir = tempDir('tmp-sweep');
  const tmp = path.join(dir, 'registry-data', 'tmp');
  let registry: RunningRegistry | undefined;
  const sockets: net.Socket[] = [];
  const leftovers = () => (existsSync(tmp) ? readdirSync(tmp).filter((f) => /^(spill|upload)-/.test(f)) : []);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await registry?.stop();
  });

  it('are removed at the next start once older than the grace period, and kept while younger', async () => {
    registry = await startRegistry(CONFIG, { dir });
    expect((await runCli(['user', 'add', 'uploader', '--password', 'uploader-password', '--config', registry.configFile])).code).toBe(0);
    // An npm publish whose attachment is being spilled to disk...
    sockets.push(
      startUpload(
        registry.port,
        `PUT /npm-local/big HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic}\r\nContent-Type: application/json\r\nContent-Length: 50000000`,
        `{"name":"big","_attachments":{"big-1.0.0.tgz":{"data":"${'A'.repeat(4 * 1024 * 1024)}`,
      ),
    );
    // ...and a multipart upload whose file part is being written.
    sockets.push(
      startUpload(
        registry.port,
        `POST /py/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic}\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: 50000000`,
        `--XX\r\nContent-Disposition: form-data; name="content"; filename="big-1.0.tar.gz"\r\nContent-Type: application/octet-stream\r\n\r\n${'B'.repeat(256 * 1024)}`,
      ),
    );
    const found = await eventually(async () => leftovers(), (files) => files.some((f) => f.startsWith('spill-')) && files.some((f) => f.startsWith('upload-')));
    expect(found.length).toBeGreaterThanOrEqual(2);
    await registry.stop('SIGKILL');
    for (const s of sockets) s.destroy();
    expect(leftovers()).toEqual(found);

    // Younger than the grace period (an hour by default): possibly another node's, kept.
    registry = await startRegistry(CONFIG, { dir });
    expect(leftovers()).toEqual(found);
    await registry.stop();

    // Older: a killed process's, removed at start.
    const old = new Date(Date.now() - 2 * 3_600_000);
    for (const f of found) utimesSync(path.join(tmp, f), old, old);
    registry = await startRegistry(CONFIG, { dir });
    expect(leftovers()).toEqual([]);
    expect(registry.output()).toMatch(/removed \d+ temporary files left by an interrupted process/);
  });
});
