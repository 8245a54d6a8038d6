import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { freePort } from '@registry-core/testing';

export const ACCOUNT = 'devstoreaccount1';
/** Azurite's published development key. */
export const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const azuriteBin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', '.bin', 'azurite-blob');

export interface TestAzurite {
  /** `http(s)://127.0.0.1:<port>/devstoreaccount1`. */
  readonly endpoint: string;
  /** Its data folder (for certificates made beside the data). */
  readonly dir: string;
  /** A client with the account key. */
  admin(): BlobServiceClient;
  stop(): Promise<void>;
}

/**
 * Azurite's blob service in its own process on a free port (no telemetry). With `tls`,
 * `prepare` writes `cert.pem` and `key.pem` into the folder first and Azurite serves HTTPS.
 */
export async function startAzurite(options: { extraArgs?: readonly string[]; tls?: boolean; prepare?: (dir: string) => void } = {}): Promise<TestAzurite> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rc-azurite-'));
  options.prepare?.(dir);
  const port = await freePort();
  const tlsArgs = options.tls ? ['--cert', path.join(dir, 'cert.pem'), '--key', path.join(dir, 'key.pem')] : [];
  const child = spawn(azuriteBin, ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir, '--silent', '--disableTelemetry', '--skipApiVersionCheck', '--loose', ...tlsArgs, ...(options.extraArgs ?? [])], { stdio: 'ignore' });
  const endpoint = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/${ACCOUNT}`;
  const admin = () => new BlobServiceClient(endpoint, new StorageSharedKeyCredential(ACCOUNT, KEY));
  for (let attempt = 0; !(await admin().getProperties().then(() => true, () => false)); attempt++) {
    if (attempt > 200) throw new Error('azurite did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    endpoint,
    dir,
    admin,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
