import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadDocument, serveDocument, type MergeableDocument } from './group.js';
import { readSmallBody, routeParam, runHandler, type FormatRequestContext, type HandlersByKind } from './http.js';

describe('readSmallBody', () => {
  it('reads a body up to the limit and refuses one past it', async () => {
    expect((await readSmallBody(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 4, 'the POM')).toString()).toBe('abcd');
    await expect(readSmallBody(Readable.from([Buffer.from('ab'), Buffer.from('cde')]), 4, 'the POM')).rejects.toMatchObject({ status: 413, message: 'the POM is over the 4-byte limit' });
  });
});

describe('routeParam', () => {
  it('joins a wildcard segment list with / and passes a plain parameter or an absent one through', () => {
    const ctx = { params: { path: ['a', 'b', 'c.json'], id: 'x', none: undefined } };
    expect(routeParam(ctx, 'path')).toBe('a/b/c.json');
    expect(routeParam(ctx, 'id')).toBe('x');
    expect(routeParam(ctx, 'none')).toBeUndefined();
    expect(routeParam(ctx, 'missing')).toBeUndefined();
  });
});

describe('handlers and loaders per kind of repository', () => {
  const ctxOf = (type: 'hosted' | 'proxy' | 'group') => ({ method: 'GET', path: '/x', repository: { type, name: `${type}-repo` } }) as unknown as FormatRequestContext;
  const handlers: HandlersByKind = {
    hosted: async (_ctx, repo) => ({ body: { kind: 'text', value: `hosted ${repo.name}`, contentType: 'text/plain' } }),
    proxy: async (_ctx, repo) => ({ body: { kind: 'text', value: `proxy ${repo.name}`, contentType: 'text/plain' } }),
  };

  it('runs the handler of the repository\'s kind, with the handle narrowed, and 404s a kind without one', async () => {
    expect((await runHandler(handlers, ctxOf('hosted'))).body).toEqual({ kind: 'text', value: 'hosted hosted-repo', contentType: 'text/plain' });
    expect((await runHandler(handlers, ctxOf('proxy'))).body).toEqual({ kind: 'text', value: 'proxy proxy-repo', contentType: 'text/plain' });
    expect(() => runHandler(handlers, ctxOf('group'))).toThrow(expect.objectContaining({ status: 404, message: 'GET /x is not served by group repositories (group-repo is one)' }));
    expect((await runHandler(async () => ({ status: 204 }), ctxOf('group'))).status).toBe(204);
  });

  it('loads a document with the loader of the repository\'s kind, none for a kind without one, and serves it or the format\'s 404', async () => {
    const doc: MergeableDocument<string> = {
      hosted: async (_ctx, repo) => ({ value: `stored in ${repo.name}` }),
      merge: (values) => values.join(','),
      render: (_ctx, { value }) => ({ body: { kind: 'text', value, contentType: 'text/plain' } }),
    };
    expect(await loadDocument(doc, ctxOf('hosted'))).toEqual({ value: 'stored in hosted-repo' });
    expect(await loadDocument(doc, ctxOf('proxy'))).toBeUndefined();
    const serve = serveDocument(doc, (ctx) => Object.assign(new Error(`nothing in ${ctx.repository.name}`), { status: 404 }));
    expect((await serve(ctxOf('hosted'))).body).toEqual({ kind: 'text', value: 'stored in hosted-repo', contentType: 'text/plain' });
    await expect(serve(ctxOf('proxy'))).rejects.toThrow('nothing in proxy-repo');
  });
});
