import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './registry-process.js';
import { freePort } from '@registry-core/testing';

/** Where Debian's nginx lives; tests that need it fail with this hint when it is missing. */
export const NGINX_BIN = '/usr/sbin/nginx';

export interface RunningNginx {
  readonly url: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * Start nginx (in the foreground, everything in a temp folder) with `serverBlock` as the
 * body of its one `server { }`; `listen` is added. Resolves once it accepts connections.
 */
export async function startNginx(serverBlock: (port: number) => string): Promise<RunningNginx> {
  if (!existsSync(NGINX_BIN)) throw new Error(`nginx is not installed (${NGINX_BIN}); apt-get install -y nginx-light`);
  const dir = tempDir('nginx');
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, sub));
  const port = await freePort();
  const runningAsRoot = process.getuid?.() === 0;
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `${runningAsRoot ? 'user root;\n' : ''}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
${serverBlock(port)}
  }
}
`,
  );
  const child: ChildProcess = spawn(NGINX_BIN, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}:\n${output}`);
    const up = await fetch(`${url}/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (attempt > 200) throw new Error(`nginx did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url,
    dir,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGQUIT');
      await exited;
    },
  };
}
