// What one client may hold of a server, with raw sockets: connections per address (503 and
// closed beyond the limit), request bodies that stop arriving (408 and closed), a
// half-closed malformed multipart body (still answered 400), and a client that goes away
// mid-request (logged at debug, not as a server error).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, rawRequest, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

/** A raw connection: what it received, and when the server closed it. */
function connect(port: number): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = net.connect(port, '127.0.0.1');
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => received, closed }));
    socket.once('error', reject);
  });
}

const basic = `Basic ${Buffer.from('uploader:uploader-password').toString('base64')}`;

describe('client limits', () => {
  let registry: RunningRegistry;

  beforeAll(async () => {
    registry = await startRegistry(`
server: { maxConnectionsPerClient: 4, minBodyRate: 1000, minBodyRateWindowSeconds: 1 }
logging: { level: debug }
repositories:
  npm-local: { format: npm, type: hosted }
  py: { format: pypi, type: hosted }
`);
    expect((await runCli(['user', 'add', 'uploader', '--password', 'uploader-password', '--config', registry.configFile])).code).toBe(0);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('answers 503 and closes a connection beyond the per-client limit, and serves again once one closes', async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => connect(registry.port)));
    // The server has counted all four when a fifth is refused.
    const fifth = await eventually(
      async () => {
        const one = await connect(registry.port);
        one.socket.write('GET /-/ping HTTP/1.1\r\nHost: x\r\n\r\n');
        await one.closed;
        return one.received();
      },
      (answer) => answer.startsWith('HTTP/1.1 503'),
    );
    expect(fifth).toMatch(/^HTTP\/1\.1 503/);
    expect(fifth.toLowerCase()).toContain('connection: close');
    expect(fifth).toMatch(/too many connections/);
    held[0]!.socket.destroy();
    const again = await eventually(() => rawRequest(registry.url, '/-/ping'), (answer) => answer.status === 200);
    expect(again.status).toBe(200);
    for (const h of held) h.socket.destroy();
  });

  it('answers 408 and closes the connection when a request body stops arriving', async () => {
    await eventually(() => rawRequest(registry.url, '/-/ping'), (answer) => answer.status === 200);
    const slow = await connect(registry.port);
    slow.socket.write(`PUT /npm-local/stalled HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"name":"stalled","x":"`);
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(slow.received()).toMatch(/slower than 1000 bytes per second/);
    expect(registry.output()).toMatch(/request body too slow: answered 408/);
  });

  it('answers 400 to a malformed multipart body whose client half-closed the connection', async () => {
    const body = '--XX\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload';
    const client = await connect(registry.port);
    client.socket.end(`POST /py/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic}\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 400/);
    expect(client.received()).toMatch(/malformed multipart body/);
  });

  it('logs a client that goes away mid-request at debug level, not as an unhandled error', async () => {
    const client = await connect(registry.port);
    client.socket.write(`PUT /npm-local/gone HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"name":"gone","x":"`);
    await new Promise((r) => setTimeout(r, 200));
    client.socket.destroy();
    await eventually(async () => registry.output(), (output) => /client went away/.test(output));
    expect(registry.output()).not.toMatch(/unhandled error/);
    expect(registry.output()).not.toMatch(/"level":"error"/);
  });
});
