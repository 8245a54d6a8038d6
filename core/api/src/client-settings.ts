/**
 * What a format's clients keep in their own configuration files, so `registry-core setup
 * <repository> --client <client>` can write it (merged into what the file holds) rather than
 * print lines for a person to paste.
 */

/** One setting of a client's configuration file. */
export interface ClientSetting {
  /** The `[section]` it belongs to (`global` in pip.conf); absent: the top of the file (.npmrc). */
  readonly section?: string;
  readonly key: string;
  readonly value: string;
  /**
   * The value is one item of a list (`.pypirc`'s whitespace-separated `index-servers`, a TOML
   * array such as Cargo's `global-credential-providers`): added to the items already there
   * instead of replacing them.
   */
  readonly listItem?: boolean;
}

/** A client's configuration file and the settings that point the client at a repository. */
export interface ClientSettingsFile {
  /** The client's command name (`npm`, `pip`, `twine`): what `--client` names. */
  readonly client: string;
  /** Where the client reads it, relative to the user's home folder (`.npmrc`, `.config/pip/pip.conf`). */
  readonly path: string;
  /**
   * `ini`: `key = value` lines, optionally under `[section]` headers (.npmrc, pip.conf, .pypirc);
   * `toml`: the same shape with values written as TOML strings (and lists as arrays of them),
   * e.g. `.cargo/config.toml`. The value given is always the plain text.
   */
  readonly syntax: 'ini' | 'toml';
  readonly settings: readonly ClientSetting[];
}
