/**
 * What a format's clients keep in their own configuration files, so `registry-core setup
 * <repository> --client <client>` can write it (merged into what the file holds) rather than
 * print lines for a person to paste.
 */

/** One setting of a client's configuration file. */
export interface ClientSetting {
  /**
   * Where the setting goes; absent: the top of the file (.npmrc) or the document's top level.
   *
   * - `ini`/`toml`: the `[section]` it belongs to (`global` in pip.conf, `registries.x` in
   *   `.cargo/config.toml`). In `toml`, `name[key=value]` is the `[[name]]` table (of an array
   *   of tables) whose `key` is `"value"`, made with that key when there is none (uv's
   *   `[[index]]` with `name = "..."`).
   * - `json`/`yaml`/`xml`: a path of steps separated by `/` from the top (names hold no `/`):
   *   object keys in JSON and YAML (`auths/host:port`); element names in XML, the first one the
   *   document's root (`settings/servers`). An XML step `name[child=value]` is the child element
   *   `name` whose own child `<child>` holds `value` (Maven's `server[id=x]`), `name[@attr=value]`
   *   the one whose attribute `attr` is `value` (NuGet's `add[@key=x]`); either is made when
   *   missing, carrying that key.
   */
  readonly section?: string;
  /**
   * The setting's name in its section. In `xml`, `@attr` is an attribute of the section's
   * element; any other key is a child element holding the value as text (`<url>...</url>`).
   */
  readonly key: string;
  readonly value: string;
  /**
   * The value is one item of a list (`.pypirc`'s whitespace-separated `index-servers`, a TOML
   * array such as Cargo's `global-credential-providers`, a YAML sequence such as `.condarc`'s
   * `channels`, repeated XML elements such as Maven's `<activeProfile>`): added to the items
   * already there instead of replacing them.
   */
  readonly listItem?: boolean;
}

/** A client's configuration file and the settings that point the client at a repository. */
export interface ClientSettingsFile {
  /** The client's command name (`npm`, `pip`, `twine`, `mvn`, `docker`): what `--client` names. */
  readonly client: string;
  /** Where the client reads it, relative to the user's home folder (`.npmrc`, `.config/pip/pip.conf`). */
  readonly path: string;
  /**
   * `ini`: `key = value` lines, optionally under `[section]` headers (.npmrc, pip.conf, .pypirc);
   * `toml`: the same shape with values written as TOML strings (and lists as arrays of them),
   * e.g. `.cargo/config.toml`; `json` (Docker's `config.json`), `yaml` (`.condarc`) and `xml`
   * (Maven's `settings.xml`, `NuGet.Config`): a tree, settings addressed by a path (see
   * {@link ClientSetting.section}); everything else in the file is kept as it is; `whole`:
   * see {@link ClientSettingsFile.content}. The value
   * given is always the plain text. A file whose shape does not take the settings (a JSON
   * array where an object is needed, another XML root element) is refused, never rewritten.
   */
  readonly syntax: 'ini' | 'toml' | 'json' | 'yaml' | 'xml' | 'whole';
  /** For `ini` to `xml`; empty for `whole`. */
  readonly settings: readonly ClientSetting[];
  /**
   * For `whole`: a file the format owns outright, named after the repository so it is no one
   * else's (a Gradle init script in `~/.gradle/init.d/`): written as this text, a previous
   * version of it backed up and replaced.
   */
  readonly content?: string;
}
