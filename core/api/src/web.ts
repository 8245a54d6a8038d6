/**
 * What a browser-facing plugin (a web interface) and the formats contribute to the pages a
 * person reads: the host serves a web app's files itself (with its own security headers), and
 * a format describes one of its packages for those pages (README, dependencies, tags, files,
 * install line) so a third-party format appears in a web interface without changes to it.
 */

/**
 * A single-page web app, registered by a plugin that declares it in
 * `registryCore.contributes.webApps`. The host serves it; the plugin never gets a route:
 * - `<prefix>` (config `web.prefix`, default `/`): the app's `index.html` for a browser (an
 *   `Accept` naming `text/html`); at `/` other clients keep getting the JSON list of
 *   repositories;
 * - `/-/web/<path>`: the app's other files (its scripts, styles, images), from `directory`.
 * Every answer carries a strict Content-Security-Policy (scripts and styles only from this
 * origin, no inline script, `frame-ancestors 'none'`), so the app must load its code from files.
 * The app reads the host's JSON APIs under `/-/api/`.
 */
export interface WebAppDefinition {
  /** Id declared in the manifest's `contributes.webApps`. */
  readonly id: string;
  /** Absolute folder of the built app: `index.html` and the files it refers to (as `/-/web/...`). */
  readonly directory: string;
}

/** A dependency of one package version, as a format reads it from its own metadata. */
export interface PackageDependency {
  readonly name: string;
  /** The range or specifier as written (`^1.2.0`, `>=2,<3`); empty when none. */
  readonly range: string;
  /** The ecosystem's kind (`runtime`, `dev`, `peer`, `optional`, an extra's name). */
  readonly kind: string;
}

/** A file of one package version: a path in the repository; the host adds size and digests. */
export interface PackageFile {
  /** Asset path inside the repository, as the format stores it. */
  readonly path: string;
  /** What a person calls it (the file name). */
  readonly name: string;
}

/** One package version (or the package when no version is asked) as a format describes it for people. */
export interface PackageView {
  /** One-line summary. */
  readonly description?: string;
  /** The README or long description, as Markdown (plain text is valid Markdown); rendered sanitized by the web app. */
  readonly readme?: string;
  readonly dependencies?: readonly PackageDependency[];
  /** Named pointers to versions: npm's dist-tags, OCI's tags, channels. */
  readonly tags?: Readonly<Record<string, string>>;
  /** The version described (the latest when none was asked). */
  readonly version?: string;
  readonly files?: readonly PackageFile[];
  /** Facts worth a line each (`license`, `homepage`), shown as given (plain text). */
  readonly facts?: Readonly<Record<string, string>>;
}

/** Most a {@link PackageView} carries, see {@link boundedPackageView}. */
export const PACKAGE_VIEW_LIMITS = {
  /** Characters of a fact, a dependency's name, range or kind, a tag, a file name, the version. */
  text: 1024,
  /** Characters of the description. */
  description: 4096,
  /** Characters of a README. */
  readme: 256 * 1024,
  /** Entries of each list and map (dependencies, files, tags, facts). */
  entries: 200,
} as const;

const clip = (value: string, max: number) => (value.length > max ? `${value.slice(0, max - 1)}…` : value);

/**
 * A view as a format read it from stored files (hostile: anyone may have published them),
 * held to {@link PACKAGE_VIEW_LIMITS}: every string cut to its length, every list and map to
 * its count (the whole view stays under 2 MiB of JSON). Nothing is escaped: the web app renders text as text and Markdown sanitized.
 * The kernel's browse API applies it to every format's view; a format need not.
 */
export function boundedPackageView(view: PackageView): PackageView {
  const { text, description, readme, entries } = PACKAGE_VIEW_LIMITS;
  const map = (record: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(record).slice(0, entries).map(([k, v]) => [clip(k, text), clip(v, text)]));
  return {
    ...(view.version !== undefined ? { version: clip(view.version, text) } : {}),
    ...(view.description !== undefined ? { description: clip(view.description, description) } : {}),
    ...(view.readme !== undefined ? { readme: clip(view.readme, readme) } : {}),
    ...(view.dependencies ? { dependencies: view.dependencies.slice(0, entries).map((d) => ({ name: clip(d.name, text), range: clip(d.range, text), kind: clip(d.kind, text) })) } : {}),
    ...(view.tags ? { tags: map(view.tags) } : {}),
    ...(view.files ? { files: view.files.slice(0, entries).map((f) => ({ path: f.path, name: clip(f.name, text) })) } : {}),
    ...(view.facts ? { facts: map(view.facts) } : {}),
  };
}
