import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processAlive, type RegistryConfig } from '@registry-core/kernel';

/**
 * What a running `registry-core start` writes to `<dataDir>/server.json`, so that `status`
 * and `setup` find the server whatever `--port` it was started with.
 */
export interface ServerRecord {
  readonly pid: number;
  /** The address the server is reached at from this machine. */
  readonly url: string;
  readonly port: number;
  readonly startedAt: string;
  readonly version: string;
}

const recordFile = (dataDir: string) => path.join(dataDir, 'server.json');

/** `http://host:port` for a server listening on `host` (the wildcard addresses as loopback). */
export function localUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

export function writeServerRecord(dataDir: string, record: ServerRecord): void {
  mkdirSync(dataDir, { recursive: true });
  const file = recordFile(dataDir);
  writeFileSync(`${file}.${process.pid}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${file}.${process.pid}.tmp`, file);
}

/** Remove the record at shutdown, if it is still this process's (another node may share the folder). */
export function removeServerRecord(dataDir: string): void {
  if (readServerRecord(dataDir)?.pid === process.pid) rmSync(recordFile(dataDir), { force: true });
}

function readServerRecord(dataDir: string): ServerRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(recordFile(dataDir), 'utf8')) as Partial<ServerRecord>;
    return typeof record.pid === 'number' && typeof record.url === 'string' && typeof record.port === 'number' ? (record as ServerRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** The server recorded in the data folder, if its process is still alive. */
export function runningServer(dataDir: string): ServerRecord | undefined {
  const record = readServerRecord(dataDir);
  return record && processAlive(record.pid) ? record : undefined;
}

/** The address of the server of `config`: the one recorded in its data folder, else the config's own. */
export function serverAddress(config: RegistryConfig): { url: string; from: 'running' | 'config' } {
  const running = runningServer(config.dataDir);
  if (running) return { url: running.url, from: 'running' };
  return { url: config.server.publicUrl?.replace(/\/+$/, '') ?? localUrl(config.server.host, config.server.port), from: 'config' };
}
