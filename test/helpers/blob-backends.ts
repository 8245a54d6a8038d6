import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3rver, type TestS3 } from '@registry-core/testing';
import { tempDir } from './registry-process.js';

const testDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** One blob store several nodes share in a test: its config block, and what it needs running. */
export interface BlobBackend {
  /** Start what the store needs and resolve its `storage.default` block (YAML flow). */
  storage(options?: { redirect?: string }): Promise<string>;
  stop(): Promise<void>;
  /** Where clients are redirected to, for stores that can redirect downloads. */
  readonly redirectsTo?: () => string;
}

/** The shared stores cluster tests run on: a folder, and an S3-compatible server. */
export const blobBackends: Record<string, () => BlobBackend> = {
  'a shared folder': () => ({
    storage: async () => `{ driver: fs, path: "${path.join(tempDir('cluster-blobs'), 'blobs')}" }`,
    stop: async () => undefined,
  }),
  's3rver': () => {
    let s3: TestS3 | undefined;
    // Clients reach the store by another host name than the registry (as they would in
    // production): npm drops its Authorization header on a redirect only when the host
    // changes, and S3 refuses a presigned request that carries one.
    const publicEndpoint = () => s3!.endpoint.replace('127.0.0.1', 'localhost');
    return {
      async storage(options = {}) {
        const bucket = 'cluster';
        s3 = await startS3rver({ fromDir: testDir, buckets: [bucket] });
        const redirect = options.redirect ? `, publicEndpoint: "${publicEndpoint()}", redirect: ${options.redirect}` : '';
        return `{ driver: s3, bucket: ${bucket}, endpoint: "${s3.endpoint}", accessKeyId: ${s3.accessKeyId}, secretAccessKey: ${s3.secretAccessKey}${redirect} }`;
      },
      stop: async () => s3?.stop(),
      redirectsTo: () => `${publicEndpoint()}/cluster/`,
    };
  },
};
