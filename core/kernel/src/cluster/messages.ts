/**
 * The messages between the primary process of `server.workers` and its workers, over
 * node:cluster's IPC channel. Every message carries `rc` (its kind) so that other
 * messages on the channel are told apart.
 */

/** Something one worker changed that the others drop from their memory caches at once. */
export type ClusterChange =
  /** A repository's assets or documents (a publish, a delete, a newly cached file); `path`: the one asset. */
  | { readonly kind: 'content'; readonly repository: string; readonly path?: string }
  /** A stored token was revoked. */
  | { readonly kind: 'tokens' }
  /** A user's password or roles changed, or a user was removed. */
  | { readonly kind: 'users' };

/** Worker to primary. */
export type WorkerMessage =
  | { readonly rc: 'lock'; readonly id: number; readonly key: string }
  | { readonly rc: 'unlock'; readonly id: number }
  | { readonly rc: 'changed'; readonly change: ClusterChange }
  | { readonly rc: 'ready'; readonly port: number };

/** Primary to worker. */
export type PrimaryMessage =
  | { readonly rc: 'granted'; readonly id: number }
  | { readonly rc: 'changed'; readonly change: ClusterChange }
  | { readonly rc: 'stop' };

/** The environment variable a worker's slot (1..N) is passed in; slot 1 runs the periodic tasks. */
export const WORKER_SLOT_ENV = 'REGISTRY_CORE_WORKER_SLOT';

export function isClusterMessage(message: unknown): message is { rc: string } {
  return typeof message === 'object' && message !== null && typeof (message as { rc?: unknown }).rc === 'string';
}
