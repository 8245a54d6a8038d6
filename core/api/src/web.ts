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
