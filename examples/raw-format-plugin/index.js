// A complete format plugin in one file of plain JavaScript, using only @registry-core/api.
// "raw" repositories store files by path: PUT uploads, GET downloads; proxies cache an
// upstream's files; groups serve the first member that has the file.
import { BadRequestError, NotFoundError, UpstreamError, assetResponse, isSafeRelativePath } from '@registry-core/api';

function filePath(ctx) {
  const segments = ctx.params.path ?? [];
  const path = segments.join('/');
  if (!isSafeRelativePath(path)) throw new BadRequestError(`invalid path: ${path}`);
  return path;
}

/** @type {import('@registry-core/api').RouteDefinition[]} */
const routes = [
  {
    method: 'GET',
    path: '/*path',
    permission: 'read',
    async handler(ctx) {
      const path = filePath(ctx);
      const repo = ctx.repository;
      if (repo.type === 'group') {
        const hit = await repo.members.first();
        if (!hit) throw new NotFoundError(`${path} not found in any member`);
        return hit.response;
      }
      if (repo.type === 'proxy') {
        // Files whose names end with one of `mutable` (e.g. ".json") change upstream: they
        // are cached as metadata (revalidated after the TTL); everything else is immutable.
        const mutable = Array.isArray(repo.config.mutable) ? repo.config.mutable : [];
        const kind = mutable.some((suffix) => path.endsWith(suffix)) ? 'metadata' : 'content';
        // With `checksums: sha256`, content must match the `<file>.sha256` the upstream
        // publishes beside it; that file is read only on a miss.
        const prepare =
          kind === 'content' && repo.config.checksums === 'sha256' && !path.endsWith('.sha256')
            ? async () => {
                const sidecar = await repo.upstream.fetch({ path: `${path}.sha256`, kind: 'content', maxBytes: 4096 });
                if (!sidecar.found) throw new NotFoundError(`${path}.sha256 not found upstream`);
                const sha256 = /^[0-9a-f]{64}\b/i.exec((await sidecar.asset.read(4096)).toString('utf8').trim())?.[0];
                if (!sha256) throw new UpstreamError(`${path}.sha256 upstream holds no sha256`);
                return { expect: { sha256 } };
              }
            : undefined;
        // serve(): content reaches the client while it is being stored (streaming tee).
        const result = await repo.upstream.serve({ path, kind, prepare });
        if (!result.found) throw new NotFoundError(`${path} not found upstream`);
        return { body: result.body, cache: result.cache };
      }
      const asset = await repo.assets.get(path);
      if (!asset) throw new NotFoundError(`${path} not found`);
      return assetResponse(asset);
    },
  },
  {
    method: 'PUT',
    path: '/*path',
    permission: 'write',
    body: { kind: 'stream' },
    async handler(ctx) {
      const path = filePath(ctx);
      if (ctx.repository.type !== 'hosted') throw new BadRequestError(`${ctx.repository.name} is a ${ctx.repository.type} repository; upload to a hosted one`);
      const sha256 = ctx.headers['x-checksum-sha256'];
      await ctx.repository.assets.put(path, ctx.body, {
        kind: 'content',
        contentType: ctx.headers['content-type'] ?? 'application/octet-stream',
        maxBytes: ctx.repository.limits.maxUploadBytes,
        createOnly: ctx.repository.config.allowRedeploy !== true,
        ...(sha256 ? { expect: { sha256 } } : {}),
      });
      return { status: 201, body: { kind: 'json', value: { ok: true, path } } };
    },
  },
  {
    method: 'DELETE',
    path: '/*path',
    permission: 'delete',
    async handler(ctx) {
      const path = filePath(ctx);
      if (!(await ctx.repository.assets.delete(path))) throw new NotFoundError(`${path} not found`);
      return { status: 204 };
    },
  },
];

/** @param {import('@registry-core/api').PluginContext} ctx */
export function activate(ctx) {
  ctx.registerFormat({
    id: 'raw',
    routes,
    // Scripts may send their token as `X-Api-Key: TOKEN`; the host reads it, the plugin never does.
    credentialHeaders: ['x-api-key'],
    errorBody: (error) => ({ contentType: 'text/plain; charset=utf-8', body: `${error.status} ${error.code}: ${error.message}\n` }),
    clientConfig: (repo) => [`curl -O ${repo.url}<path>`, `curl -T FILE -u USER ${repo.url}<path>`],
  });
}
