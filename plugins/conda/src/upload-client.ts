/** What the upload API answered for one package: the stored record, or the status and the server's reason. */
export type UploadAnswer = { readonly ok: true; readonly subdir: string; readonly filename: string; readonly sha256: string; readonly size: number } | { readonly ok: false; readonly status: number; readonly message: string };

/**
 * Send one package file to a repository's upload API (`POST <repository>/-/upload`, a
 * multipart form with `file` and an optional `subdir`). Give a file-backed Blob
 * (`openAsBlob`): it is streamed from disk, never read whole. `filename` is the name it is
 * stored under. Throws when the server does not answer (network errors, `signal` aborts).
 */
export async function postPackage(repositoryUrl: string, file: Blob, filename: string, options: { authorization?: string; subdir?: string; signal?: AbortSignal } = {}): Promise<UploadAnswer> {
  const form = new FormData();
  if (options.subdir) form.set('subdir', options.subdir);
  form.set('file', file, filename);
  const answer = await fetch(`${repositoryUrl}-/upload`, { method: 'POST', body: form, headers: options.authorization ? { authorization: options.authorization } : {}, ...(options.signal ? { signal: options.signal } : {}) });
  const text = await answer.text();
  if (answer.ok) return { ok: true, ...(JSON.parse(text) as { subdir: string; filename: string; sha256: string; size: number }) };
  let message = text.trim();
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? message;
  } catch {
    // not JSON: the text as it came
  }
  return { ok: false, status: answer.status, message };
}
