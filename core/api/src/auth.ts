/** What a route or an action needs. */
export type Permission = 'read' | 'write' | 'delete' | 'admin';

/** Who is making a request, as the host established it from the credentials sent. */
export interface Principal {
  /** User name; `anonymous` when no credentials were sent. */
  readonly name: string;
  /** True when no credentials were sent. */
  readonly anonymous: boolean;
  /** Roles (groups) of the user. */
  readonly roles: readonly string[];
  /** How the principal authenticated. */
  readonly via: 'anonymous' | 'password' | 'token';
  /** True for a token created read-only: it never grants write, delete or admin. */
  readonly readOnly: boolean;
  /** Id of the token used, when `via` is `token`. */
  readonly tokenId?: string;
  /**
   * What a scoped token may change: repository globs and package-name globs. Writes,
   * deletes and administration outside them are refused (reads are not narrowed).
   */
  readonly scope?: { readonly repositories?: readonly string[]; readonly packages?: readonly string[] };
  /**
   * Set for an access token (see `FormatAuthService.issueAccessToken`): the only things it
   * may do, reads included, on top of what the principal's permissions allow.
   */
  readonly grants?: readonly import('./http.js').AccessGrant[];
}

/** A user as an auth provider knows it. */
export interface AuthenticatedUser {
  readonly name: string;
  readonly roles: readonly string[];
}

/**
 * An authentication provider checks a user name and password. Providers are chained in
 * the order the config lists them; the first that knows the user decides.
 */
export interface AuthProvider {
  /**
   * Check a password. Resolve `undefined` when this provider does not know the user
   * (the next provider is asked), `false` when it knows the user and the password is wrong.
   */
  authenticate(name: string, password: string): Promise<AuthenticatedUser | false | undefined>;
  /**
   * Create a user (self-registration, e.g. `npm adduser`). Optional: providers backed by
   * read-only sources omit it. Resolve `false` when the name is taken.
   */
  addUser?(name: string, password: string, fields?: { email?: string }): Promise<AuthenticatedUser | false>;
  /**
   * Optional: the roles (groups) of a user this provider knows, `undefined` for one it does
   * not. Lets tokens of the provider's users carry their groups (tokens are checked without
   * a password); without it those tokens carry no roles.
   */
  rolesOf?(name: string): Promise<readonly string[] | undefined>;
}

/** What an auth-provider plugin registers. */
export interface AuthProviderDefinition {
  /** Id used in the config's `auth.providers` list. */
  readonly id: string;
  /** Build a provider from its config block. */
  create(options: Readonly<Record<string, unknown>>, env: ProviderEnvironment): AuthProvider | Promise<AuthProvider>;
}

/** Host facts a provider or driver may need when it is created. */
export interface ProviderEnvironment {
  /** Folder of the config file; relative paths in options are relative to it. */
  readonly configDir: string;
  /** The resolved `dataDir`. */
  readonly dataDir: string;
  readonly logger: import('./logger.js').Logger;
}
