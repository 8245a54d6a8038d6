// A complete format plugin in one file of plain JavaScript, using only @registry-core/api.
// "raw" repositories store files by path: PUT uploads, GET downloads; proxies cache an
// upstream's files; groups answer by the kernel's rules (a file's package is the first
// segment of its path: a hosted member holding that package answers for it alone).
import { BadRequestError, NotFoundError, UpstreamError, assetResponse, isSafePathSegment } from '@registry-core/api';

function filePath(ctx) {
  const segments = ctx.params.path ?? [];
  // Each segment on its own: a segment may hold a decoded `%2F`, which must not become a `/`.
  if (segments.length === 0 || !segments.every(isSafePathSegment)) throw new BadRequestError(`invalid path: ${segments.join('/')}`);
  return segments.join('/');
}

/**
 * A file as a component: the package is the path's first segment (`builds` of
 * `builds/1.2/app.zip`), the version the rest (a file at the top is its own package).
 */
function componentOf(path) {
  const at = path.indexOf('/');
  return at < 0 ? { name: path, version: path } : { name: path.slice(0, at), version: path.slice(at + 1) };
}

/** A group answers for the file's package: the kernel picks the member that owns it. */
const packagePlan = (ctx) => ({ serve: 'package', package: componentOf(filePath(ctx)).name });

/** @type {import('@registry-core/api').RouteDefinition[]} */
const routes = [
  {
    method: 'GET',
    path: '/*path',
    permission: 'read',
    // One handler per kind of repository: the kernel calls the one for the repository (or the
    // group member) with its handle, so a proxy's has `upstream`.
    handler: {
      async hosted(ctx, repo) {
        const path = filePath(ctx);
        const asset = await repo.assets.get(path);
        if (!asset) throw new NotFoundError(`${path} not found`);
        return assetResponse(asset);
      },
      async proxy(ctx, repo) {
        const path = filePath(ctx);
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
      },
    },
    group: packagePlan,
  },
  {
    method: 'PUT',
    path: '/*path',
    permission: 'write',
    body: { kind: 'stream' },
    // Hosted repositories only (the kernel answers 405 to a write on a proxy, and a group
    // passes it to its hosted member).
    handler: {
      async hosted(ctx, repo) {
        const path = filePath(ctx);
        const sha256 = ctx.headers['x-checksum-sha256'];
        await repo.assets.put(path, ctx.body, {
          kind: 'content',
          contentType: ctx.headers['content-type'] ?? 'application/octet-stream',
          maxBytes: repo.limits.maxUploadBytes,
          createOnly: repo.config.allowRedeploy !== true,
          ...(sha256 ? { expect: { sha256 } } : {}),
        });
        // Indexed, so that groups know which hosted member holds the package.
        await repo.components.upsert(componentOf(path));
        return { status: 201, body: { kind: 'json', value: { ok: true, path } } };
      },
    },
    group: packagePlan,
  },
  {
    method: 'DELETE',
    path: '/*path',
    permission: 'delete',
    async handler(ctx) {
      const path = filePath(ctx);
      if (!(await ctx.repository.assets.delete(path))) throw new NotFoundError(`${path} not found`);
      const { name, version } = componentOf(path);
      await ctx.repository.components.remove(name, version);
      return { status: 204 };
    },
    group: packagePlan,
  },
];

/**
 * One package for a web interface (FormatDefinition.packageView): a version asked for is one
 * file; without one, every file of the package (its components). The host adds each file's
 * size and digests; nothing here reads a file's bytes.
 * @type {import('@registry-core/api').FormatDefinition['packageView']}
 */
async function packageView(repository, name, version) {
  const versions = (await repository.components.versions(name)).map((c) => c.version);
  if (versions.length === 0 || (version !== undefined && !versions.includes(version))) return undefined;
  const paths = (version === undefined ? versions.slice(0, 200) : [version]).map((v) => (v === name ? name : `${name}/${v}`));
  return { ...(version !== undefined ? { version } : {}), files: paths.map((path) => ({ path, name: path })) };
}

/** @param {import('@registry-core/api').PluginContext} ctx */
export function activate(ctx) {
  ctx.registerFormat({
    id: 'raw',
    routes,
    // Scripts may send their token as `X-Api-Key: TOKEN`; the host reads it, the plugin never does.
    credentialHeaders: ['x-api-key'],
    errorBody: (error) => ({ contentType: 'text/plain; charset=utf-8', body: `${error.status} ${error.code}: ${error.message}\n` }),
    clientConfig: (repo) => [`curl -O ${repo.url}<path>`, `curl -T FILE -u USER ${repo.url}<path>`],
    packageView,
    // The command that fetches one file of a package (a version is a file's path after the package).
    installLines: (repo, name, version) => [`curl -O ${repo.url}${version === undefined || version === name ? `${name}/<path>` : `${name}/${version}`}`],
  });
}
