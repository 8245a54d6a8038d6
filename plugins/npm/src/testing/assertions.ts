import { isRegistryError } from '@registry-core/api';

/** The HTTP status a thrown error maps to; undefined when nothing is thrown, -1 for a non-registry error. */
export function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (error) {
    return isRegistryError(error) ? error.status : -1;
  }
  return undefined;
}

/** Same as {@link statusOf} for a promise; resolves the error too. */
export async function rejectionOf(promise: Promise<unknown>): Promise<{ status?: number; message?: string }> {
  try {
    await promise;
  } catch (error) {
    return { status: isRegistryError(error) ? error.status : -1, message: (error as Error).message };
  }
  return {};
}
