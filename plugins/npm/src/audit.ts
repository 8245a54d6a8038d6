import { UpstreamError, isRegistryError, type HandlersByKind, type ProxyCache } from '@registry-core/api';
import { jsonResponse, type FormatRequestContext, type FormatResponse } from '@registry-core/api';

/** Largest audit request accepted (npm sends its whole dependency tree, often gzip-encoded). */
export const MAX_AUDIT_BYTES = 16 * 1024 * 1024;

async function readAll(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  if (body && typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    for await (const chunk of body as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/**
 * `POST /-/npm/v1/security/advisories/bulk` and `/-/npm/v1/security/audits/quick`
 * (`npm audit`, and the end of every `npm install`): a proxy passes the request to its
 * upstream as it is (never cached); a hosted repository has no advisories and answers
 * `{}`. A proxy whose upstream fails, or answers anything but 200, answers an error (502,
 * or the kernel's 502/504 for a blocked or silent upstream), never `{}`: npm would print
 * "found 0 vulnerabilities" for an audit nobody made. npm reports the error as an audit
 * failure (`npm audit` exits non-zero). A group is answered by its first proxy member (the
 * route's `upstream` plan); a group without one answers with an error too.
 */
export const audit: HandlersByKind = {
  async hosted(ctx) {
    await readAll(ctx.body);
    return jsonResponse({}, { cachePolicy: 'no-store' });
  },
  proxy: (ctx, repo) => upstreamAudit(ctx, repo.upstream),
};

async function upstreamAudit(ctx: FormatRequestContext, upstream: ProxyCache): Promise<FormatResponse> {
  const body = await readAll(ctx.body);
  const headers: Record<string, string> = { 'content-type': ctx.headers['content-type'] ?? 'application/json', accept: 'application/json' };
  if (ctx.headers['content-encoding']) headers['content-encoding'] = ctx.headers['content-encoding'];
  let answer;
  try {
    answer = await upstream.passthrough({ method: 'POST', upstreamUrl: ctx.path.replace(/^\/+/, ''), headers, body });
  } catch (error) {
    ctx.logger.warn('upstream audit failed', { error: (error as Error).message });
    if (isRegistryError(error)) throw error;
    throw new UpstreamError(`the upstream audit failed: ${(error as Error).message}`, { cause: error });
  }
  if (answer.status !== 200) {
    ctx.logger.warn('upstream audit answered an error', { status: answer.status });
    throw new UpstreamError(`the upstream's audit endpoint answered ${answer.status}: no advisories could be checked`);
  }
  return { body: { kind: 'buffer', value: answer.body, contentType: 'application/json' }, cachePolicy: 'no-store' };
}
