import { proxyCacheOf } from '@registry-core/api';
import { jsonResponse, type FormatRequestContext, type FormatResponse } from '@registry-core/api';

/** Largest audit request accepted (npm sends its whole dependency tree, often gzip-encoded). */
export const MAX_AUDIT_BYTES = 16 * 1024 * 1024;

function noAdvisories(): FormatResponse {
  return jsonResponse({}, { cachePolicy: 'no-store' });
}

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
 * `{}`. A proxy whose upstream fails answers `{}` too. A group is answered by its first
 * proxy member (the route's `upstream` plan); a group without one answers with an error,
 * never with an empty "no advisories".
 */
export async function audit(ctx: FormatRequestContext): Promise<FormatResponse> {
  const upstream = proxyCacheOf(ctx.repository);
  if (!upstream) {
    await readAll(ctx.body);
    return noAdvisories();
  }
  const headers: Record<string, string> = { 'content-type': ctx.headers['content-type'] ?? 'application/json', accept: 'application/json' };
  if (ctx.headers['content-encoding']) headers['content-encoding'] = ctx.headers['content-encoding'];
  try {
    const body = await readAll(ctx.body);
    const answer = await upstream.passthrough({ method: 'POST', upstreamUrl: ctx.path.replace(/^\/+/, ''), headers, body });
    if (answer.status !== 200) return noAdvisories();
    return { body: { kind: 'buffer', value: answer.body, contentType: 'application/json' }, cachePolicy: 'no-store' };
  } catch (error) {
    ctx.logger.warn('upstream audit failed; answering no advisories', { error: (error as Error).message });
    return noAdvisories();
  }
}
