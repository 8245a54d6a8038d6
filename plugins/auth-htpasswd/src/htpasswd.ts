import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BadRequestError, ForbiddenError, type AuthenticatedUser, type AuthProvider, type Logger } from '@registry-core/api';
import bcrypt from 'bcryptjs';

/** Options of the `htpasswd` provider, as given in `auth.providers`. */
export interface HtpasswdOptions {
  /** The htpasswd file (absolute). */
  readonly file: string;
  /** Let clients register (`npm adduser`), appending bcrypt lines. */
  readonly allowRegistration: boolean;
  /** Most users the file may hold when clients register (Infinity: no limit). */
  readonly maxUsers: number;
  /** bcrypt cost of new lines. */
  readonly bcryptRounds: number;
  /** Groups (roles) by name: `{ admins: [root] }`. */
  readonly groups: Readonly<Record<string, readonly string[]>>;
}

/** How often, at most, the file's modification time is looked at. */
const STAT_INTERVAL_MS = 1000;
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

type Hash = { kind: 'bcrypt'; value: string } | { kind: 'sha1'; value: Buffer } | { kind: 'unsupported'; format: string };

function parseHash(text: string): Hash {
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(text)) return { kind: 'bcrypt', value: text.replace(/^\$2y\$/, '$2b$') };
  if (text.startsWith('{SHA}')) return { kind: 'sha1', value: Buffer.from(text.slice(5), 'base64') };
  if (text.startsWith('$apr1$')) return { kind: 'unsupported', format: 'Apache MD5 ($apr1$)' };
  if (/^\$[156]\$/.test(text)) return { kind: 'unsupported', format: 'crypt(3) MD5/SHA' };
  return { kind: 'unsupported', format: 'crypt(3) DES or unknown' };
}

/**
 * Users from an htpasswd file, as Apache's `htpasswd -B` and Verdaccio write it
 * (`name:hash[:anything]`). bcrypt lines are checked with bcrypt; `{SHA}` lines are
 * accepted with a warning (they are unsalted SHA-1); other formats are refused for that
 * user (the user is known, so no other provider can be used to get around the file). The
 * file is read again when it changes, so users added with `htpasswd -B` need no restart.
 */
export class HtpasswdProvider implements AuthProvider {
  private users = new Map<string, Hash>();
  private loadedStamp = '';
  private checkedAt = 0;
  private loading: Promise<void> | undefined;
  private writes: Promise<unknown> = Promise.resolve();
  private readonly warned = new Set<string>();
  readonly addUser?: AuthProvider['addUser'];

  constructor(
    private readonly options: HtpasswdOptions,
    private readonly logger: Logger,
  ) {
    if (options.allowRegistration) this.addUser = (name, password) => this.register(name, password);
  }

  async authenticate(name: string, password: string): Promise<AuthenticatedUser | false | undefined> {
    await this.refresh();
    const hash = this.users.get(name);
    if (!hash) return undefined;
    if (!(await this.matches(name, hash, password))) return false;
    return { name, roles: this.rolesOfSync(name) };
  }

  async rolesOf(name: string): Promise<readonly string[] | undefined> {
    await this.refresh();
    return this.users.has(name) ? this.rolesOfSync(name) : undefined;
  }

  /** Number of users in the file, as last read. */
  get size(): number {
    return this.users.size;
  }

  private rolesOfSync(name: string): string[] {
    return Object.entries(this.options.groups)
      .filter(([, members]) => members.includes(name))
      .map(([group]) => group);
  }

  private async matches(name: string, hash: Hash, password: string): Promise<boolean> {
    switch (hash.kind) {
      case 'bcrypt':
        return bcrypt.compare(password, hash.value);
      case 'sha1': {
        this.warnOnce(name, `htpasswd: user ${name} has an unsalted {SHA} hash; replace it with htpasswd -B`);
        const given = createHash('sha1').update(password).digest();
        return given.length === hash.value.length && timingSafeEqual(given, hash.value);
      }
      case 'unsupported':
        this.warnOnce(name, `htpasswd: user ${name} has a ${hash.format} hash, which this provider does not accept; replace it with htpasswd -B`);
        return false;
    }
  }

  private warnOnce(name: string, message: string): void {
    if (this.warned.has(name)) return;
    this.warned.add(name);
    this.logger.warn(message);
  }

  /** Read the file again if it changed (looked at no more than once a second). */
  private async refresh(force = false): Promise<void> {
    if (!force && Date.now() - this.checkedAt < STAT_INTERVAL_MS) return this.loading;
    this.checkedAt = Date.now();
    this.loading = (async () => {
      const info = await stat(this.options.file).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      const stamp = info ? `${info.mtimeMs}:${info.size}:${info.ino}` : 'missing';
      if (stamp === this.loadedStamp) return;
      const text = info ? await readFile(this.options.file, 'utf8') : '';
      const users = new Map<string, Hash>();
      for (const [index, line] of text.split(/\r?\n/).entries()) {
        if (line.trim() === '' || line.startsWith('#')) continue;
        const [name, hash] = line.split(':');
        if (!name || !hash) {
          this.logger.warn(`htpasswd: ${this.options.file} line ${index + 1} is not name:hash; skipped`);
          continue;
        }
        users.set(name, parseHash(hash.trim()));
      }
      this.users = users;
      this.loadedStamp = stamp;
    })();
    return this.loading;
  }

  /** Append a user (serialised; written to a temporary file, then renamed over the old one). */
  private register(name: string, password: string): Promise<AuthenticatedUser | false> {
    const run = this.writes.then(async () => {
      await this.refresh(true);
      if (this.users.has(name)) return false as const;
      if (!USER_NAME.test(name)) throw new BadRequestError(`invalid user name "${name.slice(0, 64)}"`);
      if (this.users.size >= this.options.maxUsers) throw new ForbiddenError(`no more users may register (maxUsers ${this.options.maxUsers})`);
      // `$2y$`: what Apache's htpasswd writes and reads; the same algorithm as `$2b$`.
      const hash = (await bcrypt.hash(password, this.options.bcryptRounds)).replace(/^\$2[ab]\$/, '$2y$');
      const current = await readFile(this.options.file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return '';
        throw error;
      });
      const next = `${current}${current === '' || current.endsWith('\n') ? '' : '\n'}${name}:${hash}\n`;
      const temporary = path.join(path.dirname(this.options.file), `.${path.basename(this.options.file)}.${process.pid}.${Date.now()}.tmp`);
      await writeFile(temporary, next, { mode: 0o600 });
      await rename(temporary, this.options.file);
      await this.refresh(true);
      return { name, roles: this.rolesOfSync(name) };
    });
    this.writes = run.catch(() => undefined);
    return run;
  }
}
