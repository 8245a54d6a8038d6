import type { Permission, Principal } from './auth.js';
import type { FormatResponse, HostRootAddress, RouteDefinition } from './http.js';
import type { Logger } from './logger.js';
import type { AssetKind, RepositoryHandle, RepositoryType } from './repository.js';
import type { PackageView } from './web.js';
import type { ClientSettingsFile } from './client-settings.js';

/** Error facts a format turns into its own error body. */
export interface ErrorInfo {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/**
 * The error body of formats whose clients print only the HTTP status line (twine, mvn's
 * `ReasonPhrase`): `<status> <message>` as plain text, the message also as the reason phrase.
 */
export function plainTextErrorBody(error: ErrorInfo): { readonly contentType: string; readonly body: string; readonly reasonPhrase: string } {
  return { contentType: 'text/plain; charset=utf-8', body: `${error.status} ${error.message}\n`, reasonPhrase: error.message };
}

/**
 * A Basic challenge naming the repository, `Basic realm="registry-core/<name>"`, for clients
 * that send credentials only after one (pip, Maven's Wagon).
 */
export function basicChallenge(repository: { readonly name: string }): string {
  return `Basic realm="registry-core/${repository.name}"`;
}

/** A repository as shown in startup output and client configuration lines. */
export interface RepositoryInfo {
  readonly name: string;
  readonly format: string;
  readonly type: RepositoryType;
  /** Absolute URL with a trailing slash. */
  readonly url: string;
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * The kernel's group policy, for a format's client lines: whether publishes sent here land
   * somewhere (a hosted repository, or a group with a hosted member; proxies refuse writes)...
   */
  readonly takesWrites: boolean;
  /** ...and whether names it does not hold are asked of an upstream (a proxy, or a group with a proxy member). */
  readonly reachesUpstream: boolean;
}

/** One candidate upstream of a format's zero-config proxy, and where it comes from. */
export interface DefaultUpstream {
  readonly url: string;
  /** Where the URL comes from, told to the operator (`npm config get registry`, `Maven Central`). */
  readonly source: string;
}

/** What {@link FormatDefinition.defaultUpstream} gives: one URL, candidates in order, or none. */
export type DefaultUpstreams = string | readonly DefaultUpstream[] | undefined;

/**
 * A package format: the translation between one ecosystem's wire protocol and the
 * kernel's engine (assets, documents, components, proxy cache, group members).
 */
export interface FormatDefinition {
  /** Id used as `repositories.<name>.format`; must be declared in the manifest. */
  readonly id: string;
  /** Endpoints, mounted under every repository of this format, tried in order. */
  readonly routes: readonly RouteDefinition[];
  /**
   * The format's error body; default `{"error": message}` as JSON. `reasonPhrase` replaces
   * the HTTP status line's text, for clients that print only that (twine shows
   * `400 File already exists.`); the host keeps it to printable ASCII.
   */
  errorBody?(error: ErrorInfo): { readonly contentType: string; readonly body: string; readonly reasonPhrase?: string };
  /**
   * Request headers, besides `Authorization`, in which this format's client sends a token
   * (NuGet's `X-NuGet-ApiKey`, say), lower-case. The host reads them as a bearer token
   * when no `Authorization` header came; a format never parses credentials itself.
   */
  readonly credentialHeaders?: readonly string[];
  /**
   * The client sends its token as the whole `Authorization` value, with no scheme (Cargo's
   * `Authorization: <token>`): the host reads a one-word `Authorization` header as a bearer
   * token for this format's repositories. `Bearer` and `Basic` values are read as usual.
   */
  readonly bareTokenAuthorization?: boolean;
  /**
   * `WWW-Authenticate` value sent with 401 answers, e.g. `Basic realm="..."`. `request`
   * says which request was refused (absent outside a request), so a challenge can name
   * what to ask a token for (OCI's `scope="repository:<name>:pull"`).
   */
  authChallenge?(repository: RepositoryInfo, request?: ChallengeRequest): string | undefined;
  /**
   * For protocols that clients always address at the host root (OCI's `/v2/`): the host
   * also serves `<prefix>/<repository>/<rest>` as repository `<repository>`'s path
   * `<prefix>/<rest>`, answers `<prefix>/` itself through this format's first repository,
   * and on a repository's own port (`repositories.<name>.port`) every path is that
   * repository's. Handlers learn how the client addressed them from
   * {@link FormatRequestContext.hostRoot}.
   *
   * `hostRoutes`: what the host answers itself under the prefix, for paths whose first
   * segment names no repository (OCI's `GET /v2/_catalog`, the images of every repository
   * the caller may read).
   */
  readonly hostRoot?: { readonly prefix: string; readonly hostRoutes?: readonly HostRootRoute[] };
  /**
   * Upkeep jobs of this format (OCI's garbage collection), run per repository: on a
   * schedule when `intervalSeconds` is set (one node at a time), and on demand by
   * `registry-core <format> <task> [--repository R] [--dry-run]`.
   */
  readonly tasks?: readonly FormatTask[];
  /**
   * Client-side commands of this format, run by `registry-core <format> <name> ...` against a
   * repository over HTTP as the format's clients would (Go's `publish <dir>`, which builds
   * the module zip the go command would and PUTs it): for what the ecosystem's own client
   * cannot do. The host parses the command line and says where the repository is.
   */
  readonly commands?: readonly FormatCommand[];
  /**
   * Largest metadata document (bytes) a repository of this format accepts from an upstream
   * and parses, unless the operator sets `cache.maxMetadataSize`: one that fits the largest
   * real documents of the ecosystem with room to spare, so one hostile document cannot
   * take the server's memory. Default 64 MiB. Read it as `repository.limits.maxMetadataBytes`.
   */
  readonly maxMetadataBytes?: number;
  /** Lines a user puts in their client's configuration, printed at start. */
  clientConfig?(repository: RepositoryInfo): readonly string[];
  /**
   * The configuration files of this format's clients that point them at `repository`, with
   * `token` as their credential when given (else none, or an environment reference the
   * client expands): what `registry-core setup <repository> --client <client>` writes.
   */
  clientSettings?(repository: RepositoryInfo, token: string | undefined): readonly ClientSettingsFile[];
  /**
   * Where a proxy of this format may fetch from besides the configured upstream URL and
   * the paths under it: the upstream's own index lists content elsewhere (a PyPI simple
   * index at `/simple/` lists files at `/packages/`, and pypi.org's at another host).
   * `basePath`: a wider path prefix on the upstream's origin; `origins`: more origins
   * (added to `cache.allowedOrigins`). Default: the configured URL only.
   */
  upstreamScope?(upstreamUrl: string): { readonly basePath?: string; readonly origins?: readonly string[] };
  /**
   * Upstream of the zero-config proxy repository of this format: candidates, most preferred
   * first (the registry the local client is configured with, then the ecosystem's public
   * default). The kernel takes the first that is not this registry itself (a client pointed
   * here, as the start banner suggests, must not make the proxy proxy itself) and makes no
   * proxy when none is left. A bare string is one candidate.
   */
  defaultUpstream?(): DefaultUpstreams | Promise<DefaultUpstreams>;
  /**
   * Called once per repository at start so the format can validate its own config keys;
   * throw a BadRequestError naming the key to refuse the config.
   */
  validateRepository?(repository: RepositoryInfo): void;
  /**
   * For formats whose hosted repositories split one name's versions by policy (Maven's
   * release and snapshot repositories): hosted repositories in different version spaces own
   * a name independently, so a group takes the first holder of each space as the name's
   * owners and merges their documents. Default: one space, one owner.
   */
  versionSpace?(repository: RepositoryInfo): string;
  /**
   * Once per repository when the server has started: bring derived state up to date (OCI
   * indexes the images a hosted repository held before it kept a component index).
   */
  onRepositoryReady?(repository: RepositoryHandle): Promise<void>;
  /**
   * The path (inside a repository, percent-encoded, starting with `/`) of the document that
   * says whether a repository serves `packageName` (npm's packument, a PyPI project page).
   * Before a name new to a hosted repository is published there, the kernel GETs it on the
   * proxy members of every group the repository is in: a name an upstream already serves is
   * refused unless a group's `routing` claims it for that hosted member (a hosted name
   * would shadow the upstream's for every client of the group; a claimed name is never asked). A 404 means the proxy does
   * not serve it; any other failure refuses the publish (an upstream that cannot be asked
   * proves nothing). Without it (or for a name it resolves `undefined` for), no such check.
   */
  packageDocumentPath?(packageName: string): string | undefined;
  /**
   * Download analytics: which package and version a file this repository serves belongs to.
   * The kernel asks for every stored file it sends to a client with a GET (a hosted read,
   * a proxy's HIT, MISS or STALE, through a group or not) and counts the answer per
   * repository, package, version and day with the bytes sent. `undefined`: not part of a
   * package (a metadata document, an index). `counted: false`: bytes of the package but no
   * download of it (an image layer beside its manifest, a checksum file, a signature), so
   * that one client install counts once. Called on the hot path: a pure function of the
   * paths, no I/O. Without it, the repository's files are not counted.
   */
  downloadOf?(served: ServedFile): DownloadOf | undefined;
  /**
   * One package of a hosted (or proxy) repository, described for people (a web interface):
   * README, dependencies, tags, files of `version` (the latest when absent), from what the
   * repository stores. `name` is a component name of the repository's component index.
   * Resolve `undefined` when the repository does not hold it. Without it, a web interface
   * shows what the component index holds (versions, the `description` attribute).
   */
  packageView?(repository: RepositoryHandle, name: string, version: string | undefined): Promise<PackageView | undefined>;
  /**
   * The command that installs one package from `repository` (`npm install left-pad@1.3.0`,
   * `pip install --index-url ... requests==2.0`), shown beside a package; the browse API
   * passes the version its page shows (a format's "latest" may name no version: an image
   * without a `latest` tag); `version` absent: the latest. Lines are shown as they are, each
   * one copyable.
   */
  installLines?(repository: RepositoryInfo, name: string, version: string | undefined): readonly string[];
}

/** A file a repository serves, for {@link FormatDefinition.downloadOf}. */
export interface ServedFile {
  /** Path inside the repository the client asked for (still percent-encoded; for a group: the group's path). */
  readonly requestPath: string;
  /** Path of the stored file that answers it, as the format stored it (the member's, through a group). */
  readonly assetPath: string;
  readonly kind: AssetKind;
}

/** The package and version of a served file, see {@link FormatDefinition.downloadOf}. */
export interface DownloadOf {
  /** The package name as the format indexes its components. */
  readonly name: string;
  /** Its version (an image's tag or manifest digest); `''` when the file belongs to no one version (an image layer). */
  readonly version: string;
  /** Default true; false: bytes of the package, no download of it. */
  readonly counted?: boolean;
}

/**
 * A path under a {@link FormatDefinition.hostRoot} prefix that is the host's rather than one
 * repository's. Its errors are rendered as the format's (`errorBody`).
 */
export interface HostRootRoute {
  readonly method: 'GET';
  /** The rest of the path after the prefix, matched exactly (`/_catalog`). */
  readonly path: string;
  handler(ctx: HostRootContext): Promise<FormatResponse>;
}

/** What a {@link HostRootRoute} handler knows and may ask. */
export interface HostRootContext {
  readonly query: URLSearchParams;
  readonly principal: Principal;
  /** The protocol root as the client addressed it (`http://h/v2/`, no name prefix). */
  readonly hostRoot: HostRootAddress;
  readonly logger: Logger;
  /**
   * `GET <prefix><path>` asked of every repository of this format the caller may read, in
   * configuration order, each addressed at the host root (so its names carry its own
   * `<repository>/` prefix) with the caller's credentials: the 2xx answers, by repository.
   * A repository that refuses or fails is left out (and logged at debug level).
   */
  eachRepository(path: string, query?: URLSearchParams): Promise<readonly { readonly repository: string; readonly response: FormatResponse }[]>;
}

/** A request the host refused with 401, for {@link FormatDefinition.authChallenge}. */
export interface ChallengeRequest {
  readonly method: string;
  /** Path inside the repository, as in {@link FormatRequestContext.path}. */
  readonly path: string;
  /** The matched route's parameters (empty when no route matched). */
  readonly params: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** What was asked for when the refusal came. */
  readonly permission: Permission;
  readonly hostRoot?: HostRootAddress;
}

/** A client-side command of a format, see {@link FormatDefinition.commands}. */
export interface FormatCommand {
  /** Command-line name, e.g. `publish`. */
  readonly name: string;
  /** One line for `--help`. */
  readonly description: string;
  /**
   * Names of the positional arguments, in order, all required (`dir`). The last may end in
   * `...` (`files...`): it takes one or more values, given as {@link FormatCommandContext.rest};
   * written `[name...]`, zero or more.
   */
  readonly arguments?: readonly string[];
  /** Options of the command besides the host's (`--repository`, `--registry`, `--token`, `--config`). */
  readonly options?: readonly FormatCommandOption[];
  run(context: FormatCommandContext): Promise<void>;
}

/** An option of a {@link FormatCommand}: `--name value`, or `--name` alone when `flag`. */
export interface FormatCommandOption {
  readonly name: string;
  readonly description: string;
  readonly required?: boolean;
  /** Takes no value: given, it reads as `'true'` in {@link FormatCommandContext.options}. */
  readonly flag?: boolean;
}

/** What a {@link FormatCommand} is given. */
export interface FormatCommandContext {
  /** The positional arguments, as {@link FormatCommand.arguments} names them (a `...` one is in `rest`). */
  readonly args: Readonly<Record<string, string>>;
  /** The values of a last argument named with `...`, in order (one at least, unless `[name...]`); otherwise empty. */
  readonly rest: readonly string[];
  /** The command's own options by name; required ones are present, a given flag is `'true'`. */
  readonly options: Readonly<Record<string, string | undefined>>;
  /**
   * Absolute URL of the repository, with a trailing slash: `--repository` under `--registry`
   * (default: the server running on the data folder, else the config's address), or a
   * `--registry` URL with a path when `--repository` is not given.
   */
  readonly repositoryUrl: string;
  /** `Authorization` value for it (`Bearer <token>` from `--token` or `REGISTRY_CORE_TOKEN`), when one was given. */
  readonly authorization?: string;
  /** A line of output for the person running the command. */
  print(line: string): void;
  /**
   * A line on standard error: what went wrong with one item of several, the command going
   * on with the others (it throws at the end to fail; a thrown error's message is printed too).
   */
  printError(line: string): void;
  /**
   * Present when standard error is a terminal: replaces the status line there (a progress
   * bar); `''` clears it. A command without it prints what a script reads instead.
   */
  progress?(line: string): void;
}

/** An upkeep job of a format, see {@link FormatDefinition.tasks}. */
export interface FormatTask {
  /** Command-line name, e.g. `gc`. */
  readonly name: string;
  /** One line for `--help`. */
  readonly description: string;
  /** Seconds between scheduled runs in a running server; absent or 0: on demand only. */
  readonly intervalSeconds?: number;
  /**
   * Do the job on one repository of the format. With `dryRun`, change nothing and report
   * what would change. Resolves a small JSON-able report (counts, bytes, names).
   */
  run(repository: RepositoryHandle, options: { readonly dryRun: boolean; readonly logger: Logger }): Promise<Readonly<Record<string, unknown>>>;
}

/**
 * A client's configured registry URL as a proxy's upstream: an http(s) URL with a trailing
 * slash, or `undefined` for anything else (what `defaultUpstream` reads from npm, pip...).
 */
export function httpBaseUrl(value: string | undefined): string | undefined {
  try {
    const url = new URL((value ?? '').trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return url.href;
  } catch {
    return undefined;
  }
}
