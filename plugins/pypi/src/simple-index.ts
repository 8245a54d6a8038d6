import { NotAcceptableError, UpstreamError } from '@registry-core/api';

/** One distribution file of a project page (PEP 503/592/658/691/700/714). */
export interface DistFile {
  readonly filename: string;
  /** Absolute URL the client downloads from (already pointing at this registry when served). */
  readonly url: string;
  /** Lower-case hex digests by algorithm; `sha256` whenever known. */
  readonly hashes: Readonly<Record<string, string>>;
  readonly requiresPython?: string;
  /** `false`, or the reason (possibly empty) it was yanked. */
  readonly yanked: false | string;
  /** The core metadata file (`<url>.metadata`): absent, `true` (no hash), or its hashes. */
  readonly coreMetadata?: true | Readonly<Record<string, string>>;
  readonly size?: number;
  /** ISO 8601 upload time (PEP 700). */
  readonly uploadTime?: string;
}

/** A project page, the format's model of both the HTML and the JSON simple API. */
export interface ProjectPage {
  /** The project's name as the index spells it (normalized when unknown). */
  readonly name: string;
  readonly files: readonly DistFile[];
  /** PEP 700 `versions`: every version the project has, files or not. */
  readonly versions: readonly string[];
}

export const JSON_V1 = 'application/vnd.pypi.simple.v1+json';
export const HTML_V1 = 'application/vnd.pypi.simple.v1+html';
const HASH_ALGORITHMS = ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'md5'] as const;

/**
 * The representation a client asked for with its Accept header (PEP 691): JSON, HTML, or
 * (no header, `*\/*`, `text/html`) plain HTML. Throws 406 when it accepts none of them.
 */
export function negotiate(accept: string | undefined): { kind: 'json' | 'html'; contentType: string } {
  if (!accept || accept.trim() === '') return { kind: 'html', contentType: 'text/html; charset=utf-8' };
  const offers: { type: string; q: number; index: number }[] = [];
  accept.split(',').forEach((part, index) => {
    const [type, ...params] = part.trim().split(';');
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (type && Number.isFinite(q) && q > 0) offers.push({ type: type.trim().toLowerCase(), q, index });
  });
  offers.sort((a, b) => b.q - a.q || a.index - b.index);
  for (const offer of offers) {
    if (offer.type === JSON_V1 || offer.type === 'application/vnd.pypi.simple.latest+json') return { kind: 'json', contentType: JSON_V1 };
    if (offer.type === HTML_V1 || offer.type === 'application/vnd.pypi.simple.latest+html') return { kind: 'html', contentType: HTML_V1 };
    if (offer.type === 'text/html' || offer.type === 'text/*' || offer.type === '*/*') return { kind: 'html', contentType: 'text/html; charset=utf-8' };
  }
  throw new NotAcceptableError(`none of the accepted types is served here: ${JSON_V1}, ${HTML_V1} or text/html`);
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function hashFragment(hashes: Readonly<Record<string, string>>): string {
  for (const algorithm of HASH_ALGORITHMS) if (hashes[algorithm]) return `#${algorithm}=${hashes[algorithm]}`;
  return '';
}

/** PEP 503 HTML with the PEP 592/658/714 data attributes and the repository version meta. */
export function renderProjectHtml(page: ProjectPage): string {
  const links = page.files.map((file) => {
    const attributes = [`href="${escapeHtml(file.url + hashFragment(file.hashes))}"`];
    if (file.requiresPython) attributes.push(`data-requires-python="${escapeHtml(file.requiresPython)}"`);
    if (file.coreMetadata) {
      // PEP 714's name only: pip before 23.2 mishandles the PEP 658 names (pip#12042), and
      // without them simply downloads the file.
      const value = file.coreMetadata === true ? 'true' : hashFragment(file.coreMetadata).slice(1) || 'true';
      attributes.push(`data-core-metadata="${escapeHtml(value)}"`);
    }
    if (file.yanked !== false) attributes.push(`data-yanked="${escapeHtml(file.yanked)}"`);
    return `    <a ${attributes.join(' ')}>${escapeHtml(file.filename)}</a><br/>`;
  });
  const title = `Links for ${escapeHtml(page.name)}`;
  return `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.1">\n    <title>${title}</title>\n  </head>\n  <body>\n    <h1>${title}</h1>\n${links.join('\n')}\n  </body>\n</html>\n`;
}

/** PEP 691 JSON, API version 1.1 (PEP 700: versions, size, upload-time). */
export function renderProjectJson(page: ProjectPage): unknown {
  return {
    meta: { 'api-version': '1.1' },
    name: page.name,
    versions: page.versions,
    files: page.files.map((file) => ({
      filename: file.filename,
      url: file.url,
      hashes: file.hashes,
      ...(file.requiresPython ? { 'requires-python': file.requiresPython } : {}),
      ...(file.coreMetadata ? { 'core-metadata': file.coreMetadata } : {}),
      ...(file.size !== undefined ? { size: file.size } : {}),
      ...(file.uploadTime ? { 'upload-time': file.uploadTime } : {}),
      yanked: file.yanked === false ? false : file.yanked === '' ? true : file.yanked,
    })),
  };
}

/** The project list (`/simple/`), HTML or JSON. */
export function renderIndex(kind: 'json' | 'html', projects: readonly string[]): string | unknown {
  if (kind === 'json') return { meta: { 'api-version': '1.1' }, projects: projects.map((name) => ({ name })) };
  const links = projects.map((name) => `    <a href="${escapeHtml(encodeURIComponent(name))}/">${escapeHtml(name)}</a><br/>`);
  return `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.1">\n    <title>Simple index</title>\n  </head>\n  <body>\n${links.join('\n')}\n  </body>\n</html>\n`;
}

// ------------------------------------------------------------------ reading upstream pages

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function cleanHashes(value: unknown): Record<string, string> {
  const hashes: Record<string, string> = {};
  if (typeof value !== 'object' || value === null) return hashes;
  for (const [algorithm, digest] of Object.entries(value as Record<string, unknown>)) {
    if (typeof digest === 'string' && /^[a-z0-9]{1,20}$/.test(algorithm) && /^[0-9a-fA-F]{32,128}$/.test(digest)) hashes[algorithm] = digest.toLowerCase();
  }
  return hashes;
}

function fromFragment(url: URL): Record<string, string> {
  const m = /^([a-z0-9]+)=([0-9a-fA-F]{32,128})$/.exec(url.hash.slice(1));
  return m ? { [m[1]!]: m[2]!.toLowerCase() } : {};
}

function metadataValue(value: unknown): true | Record<string, string> | undefined {
  if (value === true) return true;
  if (typeof value === 'object' && value !== null) {
    const hashes = cleanHashes(value);
    return Object.keys(hashes).length > 0 ? hashes : true;
  }
  return undefined;
}

/** The file URL of an upstream link, absolute, without its fragment; `undefined` when unusable. */
function absolute(href: string, pageUrl: string): URL | undefined {
  try {
    const url = new URL(href, pageUrl);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** An upstream's PEP 691 JSON page, every field checked; URLs made absolute against `pageUrl`. */
export function parseProjectJson(value: unknown, pageUrl: string, fallbackName: string): ProjectPage {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { files?: unknown }).files)) throw new UpstreamError('the upstream project page is not PEP 691 JSON');
  const doc = value as { name?: unknown; files: unknown[]; versions?: unknown };
  const files: DistFile[] = [];
  for (const raw of doc.files) {
    if (typeof raw !== 'object' || raw === null) continue;
    const entry = raw as Record<string, unknown>;
    const filename = str(entry['filename']);
    const url = str(entry['url']) !== undefined ? absolute(str(entry['url'])!, pageUrl) : undefined;
    if (!filename || !url) continue;
    const yanked = entry['yanked'];
    const size = entry['size'];
    files.push({
      filename,
      url: url.href.replace(/#.*$/, ''),
      hashes: { ...fromFragment(url), ...cleanHashes(entry['hashes']) },
      ...(str(entry['requires-python']) ? { requiresPython: str(entry['requires-python'])! } : {}),
      yanked: yanked === true ? '' : typeof yanked === 'string' ? yanked : false,
      ...(metadataValue(entry['core-metadata'] ?? entry['dist-info-metadata']) ? { coreMetadata: metadataValue(entry['core-metadata'] ?? entry['dist-info-metadata'])! } : {}),
      ...(typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 ? { size } : {}),
      ...(str(entry['upload-time']) ? { uploadTime: str(entry['upload-time'])! } : {}),
    });
  }
  const versions = Array.isArray(doc.versions) ? doc.versions.filter((v): v is string => typeof v === 'string') : [];
  return { name: str(doc.name) ?? fallbackName, files, versions };
}

const decodeEntities = (text: string) =>
  text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_, entity: string) => {
    const e = entity.toLowerCase();
    if (e === 'amp') return '&';
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos' || e === '#39') return "'";
    const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : '';
  });

/** An upstream's PEP 503 HTML page (anchors and their data attributes). */
export function parseProjectHtml(html: string, pageUrl: string, fallbackName: string): ProjectPage {
  const files: DistFile[] = [];
  const base = /<base\s[^>]*href\s*=\s*["']([^"']+)["']/i.exec(html);
  const baseUrl = base ? (absolute(decodeEntities(base[1]!), pageUrl)?.href ?? pageUrl) : pageUrl;
  for (const anchor of html.matchAll(/<a\s([^>]*)>([^<]*)<\/a\s*>/gi)) {
    const attributes = new Map<string, string>();
    for (const attr of anchor[1]!.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
      attributes.set(attr[1]!.toLowerCase(), decodeEntities(attr[2] ?? attr[3] ?? attr[4] ?? ''));
    }
    const href = attributes.get('href');
    const url = href ? absolute(href, baseUrl) : undefined;
    if (!url) continue;
    const filename = decodeEntities(anchor[2]!).trim() || decodeURIComponent(url.pathname.split('/').pop() ?? '');
    const metadata = attributes.get('data-core-metadata') ?? attributes.get('data-dist-info-metadata');
    let coreMetadata: DistFile['coreMetadata'];
    if (metadata !== undefined && metadata !== 'false') {
      const m = /^([a-z0-9]+)=([0-9a-fA-F]{32,128})$/.exec(metadata);
      coreMetadata = m ? { [m[1]!]: m[2]!.toLowerCase() } : true;
    }
    files.push({
      filename,
      url: url.href.replace(/#.*$/, ''),
      hashes: fromFragment(url),
      ...(attributes.get('data-requires-python') ? { requiresPython: attributes.get('data-requires-python')! } : {}),
      yanked: attributes.has('data-yanked') ? attributes.get('data-yanked')! : false,
      ...(coreMetadata ? { coreMetadata } : {}),
    });
  }
  return { name: fallbackName, files, versions: [] };
}
