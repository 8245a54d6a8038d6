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
 * upstream as it is (never cached); a group asks its first proxy member; a hosted
 * repository has no advisories and answers `{}`. Any upstream failure is `{}` too: an
 * audit must never break an install.
 */
export async function audit(ctx: FormatRequestContext): Promise<FormatResponse> {
  const repo = ctx.repository;
  if (repo.type === 'group') {
    const member = repo.members!.list.find((m) => m.type === 'proxy');
    return member ? repo.members!.forward(member.name) : noAdvisories();
  }
  if (repo.type !== 'proxy') {
    await readAll(ctx.body);
    return noAdvisories();
  }
  const headers: Record<string, string> = { 'content-type': ctx.headers['content-type'] ?? 'application/json', accept: 'application/json' };
  if (ctx.headers['content-encoding']) headers['content-encoding'] = ctx.headers['content-encoding'];
  try {
    const body = await readAll(ctx.body);
    const answer = await repo.upstream!.passthrough({ method: 'POST', upstreamUrl: ctx.path.replace(/^\/+/, ''), headers, body });
    if (answer.status !== 200) return noAdvisories();
    return { body: { kind: 'buffer', value: answer.body, contentType: 'application/json' }, cachePolicy: 'no-store' };
  } catch (error) {
    ctx.logger.warn('upstream audit failed; answering no advisories', { error: (error as Error).message });
    return noAdvisories();
  }
}
