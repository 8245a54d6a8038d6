import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from 'koa';
import { isSafeRelativePath, type WebAppDefinition } from '@registry-core/api';
import type { HostRouter } from './host-router.js';

/**
 * Security headers of every answer of a web app: scripts, styles and fonts from this origin
 * only (no inline script or style element, no eval), images also as data: and https:
 * (READMEs show badges), no plugins, no framing (clickjacking), no referrer.
 */
export const WEB_APP_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Where the files of the web app are served (fixed: never a repository's path). */
export const WEB_FILES_PREFIX = '/-/web/';

/**
 * Serves a plugin's web app (see WebAppDefinition): its page at `prefix` and its files under
 * `/-/web/`, with {@link WEB_APP_HEADERS}. At `/` only a browser gets the page (its `Accept`
 * names `text/html`); `next` answers anyone else (the host's JSON list of repositories).
 */
export class WebAppHost {
  constructor(
    private readonly app: WebAppDefinition,
    readonly prefix: string,
  ) {}

  mount(router: HostRouter): void {
    router.get(`${WEB_FILES_PREFIX}{*path}`, async (ctx, params) => {
      const segments = (params['path'] as string[] | undefined) ?? [];
      await this.serveFile(ctx, segments.join('/'));
    });
    if (this.prefix !== '/') {
      // The pattern without its slash matches both `/ui` (redirected) and `/ui/` (the page).
      router.get(this.prefix.replace(/\/$/, ''), (ctx) => (ctx.path.endsWith('/') ? this.servePage(ctx) : this.redirectToPage(ctx)));
    }
  }

  private redirectToPage(ctx: Context): void {
    ctx.status = 308;
    ctx.redirect(`${this.prefix}${ctx.querystring ? `?${ctx.querystring}` : ''}`);
  }

  /** Whether the request at `/` is a browser's (the page) rather than a client's (the JSON list). */
  wantsPage(ctx: Context): boolean {
    return this.prefix === '/' && /\btext\/html\b/.test(ctx.get('Accept'));
  }

  async servePage(ctx: Context): Promise<void> {
    await this.serveFile(ctx, 'index.html');
    // The page itself changes with every release: always asked again.
    ctx.set('Cache-Control', 'no-cache');
  }

  private async serveFile(ctx: Context, relative: string): Promise<void> {
    for (const [name, value] of Object.entries(WEB_APP_HEADERS)) ctx.set(name, value);
    const file = path.join(this.app.directory, relative);
    const info = relative !== '' && isSafeRelativePath(relative) ? await stat(file).catch(() => undefined) : undefined;
    if (!info?.isFile()) {
      ctx.status = 404;
      ctx.body = { error: 'not found' };
      return;
    }
    ctx.type = TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    ctx.length = info.size;
    // Vite names built files after their content: they never change.
    ctx.set('Cache-Control', relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.body = ctx.method === 'HEAD' ? null : createReadStream(file);
  }
}
