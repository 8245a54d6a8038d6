// The web interface (@registry-core/plugin-web) in Debian's Chromium against a real server
// seeded by npm publish, twine upload, skopeo copy and mvn deploy:deploy-file, with an npm proxy of
// another registry-core instance (its cached packages are browsable): search, a package page with its README (one that
// carries script injections renders inert), the install line copied, set-me-up, sign-in,
// a token created and revoked, a private package seen only after sign-in; axe-core on every
// page; screenshots of every page (see SCREENSHOTS).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort } from '@registry-core/testing';
import { NpmClient, makePackage } from '../helpers/npm-client.js';
import { buildProject, twineUpload } from '../helpers/python.js';
import { LOCAL_M2, PLUGINS, mvn, serveMavenFolder, writeSettings } from '../helpers/maven.js';
import { skopeo, writeMultiArchLayout } from '../helpers/oci.js';
import { createUserAndToken, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';
import { launchChromium, screenshot, seriousViolations } from './browser.js';

const HOSTILE_README = [
  '# rc-web-demo',
  '',
  'Hello from the **demo** README.',
  '',
  '<script>window.__pwned = "script"</script>',
  '<img src="x" onerror="window.__pwned = \'onerror\'" alt="broken">',
  '[a javascript link](javascript:window.__pwned=\'link\')',
  '<a href="javascript:window.__pwned=\'anchor\'" id="js-anchor">anchor</a>',
  '<iframe src="javascript:parent.__pwned=\'iframe\'"></iframe>',
  '<div onclick="window.__pwned=\'click\'" id="clicky">click me</div>',
  '<form action="https://attacker.invalid/"><input name="q"></form>',
  '',
  '```js',
  'require("rc-web-demo");',
  '```',
].join('\n');

describe('web interface in Chromium', () => {
  let registry: RunningRegistry;
  /** The npm proxy's upstream: another registry-core instance with a hosted repository. */
  let upstream: RunningRegistry;
  let mavenCentral: { url: string; close(): Promise<void> };
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let tarballSha256: string;
  /** What the browser reported the page's CSP refused: the app itself must need nothing refused. */
  const cspViolations: string[] = [];

  beforeAll(async () => {
    // The registry first; then the seeding by each client, the admin user and the browser side by side.
    // The proxy's upstream (with a package published there) on a port chosen first, so that
    // it starts beside the registry, the browser and the others.
    const upstreamPort = await freePort();
    const startUpstream = async () => {
      const up = await startRegistry(`repositories:\n  npm-up: { format: npm, type: hosted }\n`, { port: upstreamPort });
      const upToken = await createUserAndToken(up.configFile, 'upuser');
      const upNpm = new NpmClient(`${up.url}/npm-up/`, upToken);
      // rc-up-other is never asked for through the proxy: it must not be listed there.
      for (const name of ['rc-up-lib', 'rc-up-other']) {
        const published = await upNpm.npm(['publish', makePackage({ name, version: '1.2.0', description: 'Published upstream' })]);
        expect(published.code, published.stderr).toBe(0);
      }
      return up;
    };
    const [started, browserStarted, py, upstreamStarted, mavenFolder] = await Promise.all([
      startRegistry(`analytics: { flushSeconds: 1 }
repositories:
  npm-local: { format: npm, type: hosted }
  npm-private: { format: npm, type: hosted, anonymousRead: false }
  npm-proxy: { format: npm, type: proxy, upstream: "http://127.0.0.1:${upstreamPort}/npm-up/" }
  npm: { format: npm, type: group, members: [npm-local, npm-proxy] }
  pypi-local: { format: pypi, type: hosted }
  oci-local: { format: oci, type: hosted }
  maven-local: { format: maven, type: hosted }
`),
      launchChromium(),
      buildProject({ name: 'rc-web-py', version: '0.3.0', module: 'rc_web_py', requires: ['requests>=2'], readme: '# rc-web-py\n\nA *Python* package shown by the web interface.\n' }),
      startUpstream(),
      serveMavenFolder(LOCAL_M2),
    ]);
    upstream = upstreamStarted;
    mavenCentral = mavenFolder;
    registry = started;
    browser = browserStarted;
    const token = await createUserAndToken(registry.configFile, 'webuser');
    const seedNpm = async () => {
      const npm = new NpmClient(`${registry.url}/npm-local/`, token);
      const demo = makePackage({ name: 'rc-web-demo', version: '1.0.0', description: 'A demo package for the web interface', license: 'MIT', dependencies: { 'left-pad': '^1.3.0' } }, { 'README.md': HOSTILE_README });
      const published = await npm.npm(['publish', demo]);
      expect(published.code, published.stderr).toBe(0);
      const privateNpm = new NpmClient(`${registry.url}/npm-private/`, token);
      const secret = await privateNpm.npm(['publish', makePackage({ name: 'rc-web-secret', version: '2.0.0', description: 'Only for signed-in users' })]);
      expect(secret.code, secret.stderr).toBe(0);
    };
    const seedPypi = async () => {
      const uploaded = await twineUpload(`${registry.url}/pypi-local/`, '__token__', token, [py.wheel]);
      expect(uploaded.code, uploaded.stdout + uploaded.stderr).toBe(0);
    };
    const addAdmin = async () => {
      const admin = await runCli(['user', 'add', 'webadmin', '--password', 'admin-horse-battery', '--roles', 'admin', '--config', registry.configFile]);
      expect(admin.code, admin.stderr).toBe(0);
    };
    // A real client fills the proxy's cache: npm installs the upstream's package through it.
    const installThroughProxy = async () => {
      const project = mkdtempSync(path.join(tmpdir(), 'rc-web-install-'));
      const installed = await new NpmClient(`${registry.url}/npm-proxy/`).npm(['install', 'rc-up-lib@1.2.0', '--no-package-lock'], project);
      expect(installed.code, installed.stderr).toBe(0);
    };
    const seedOci = async () => {
      const layout = tempDir('rc-web-oci');
      writeMultiArchLayout(layout, '1.0', 1);
      const host = registry.url.replace(/^http:\/\//, '');
      const pushed = await skopeo(['copy', '--all', '--dest-tls-verify=false', '--dest-creds', `webuser:${token}`, `oci:${layout}:1.0`, `docker://${host}/oci-local/rc-web/image:1.0`]);
      expect(pushed.code, pushed.stderr).toBe(0);
    };
    const seedMaven = async () => {
      // mvn deploy:deploy-file (the deploy plugin only, no build), its plugin straight from the
      // machine's Maven folder served over HTTP: only the deploy reaches the registry.
      const dir = tempDir('rc-web-maven');
      writeFileSync(path.join(dir, 'web-lib-1.0.jar'), 'not much of a jar');
      const coordinates = ['-DgroupId=org.rcweb', '-DartifactId=web-lib', '-Dversion=1.0', '-Dpackaging=jar', '-DgeneratePom=true'];
      const target = [`-Durl=${registry.url}/maven-local/`, '-DrepositoryId=registry', '-Dfile=web-lib-1.0.jar'];
      const deployed = await mvn(dir, writeSettings(mavenCentral.url, { user: 'webuser', password: token }), tempDir('rc-web-m2'), [`org.apache.maven.plugins:maven-deploy-plugin:${PLUGINS['maven-deploy-plugin']}:deploy-file`, ...coordinates, ...target]);
      expect(deployed.code, deployed.output.slice(-3000)).toBe(0);
    };
    await Promise.all([seedNpm(), seedPypi(), addAdmin(), installThroughProxy(), seedOci(), seedMaven()]);
    const tarball = await fetch(`${registry.url}/npm-local/rc-web-demo/-/rc-web-demo-1.0.0.tgz`);
    tarballSha256 = createHash('sha256').update(Buffer.from(await tarball.arrayBuffer())).digest('hex');
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: registry.url });
    page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(`${page.url()} ${message.text().slice(0, 60)}`);
    });
  }, 180_000);

  afterAll(async () => {
    // Chromium reports the hostile README's two handler attributes (onerror, onclick) as refused
    // when DOMPurify parses them (in an inert document that shares the page's CSP), before it
    // drops them: the CSP backs the sanitizer up. Nothing else on any page needs what the CSP refuses.
    const hostile = (v: string) => v.includes('pkg=rc-web-demo') && v.includes('inline event handler');
    expect(cspViolations.filter(hostile).length).toBeLessThanOrEqual(4);
    expect(cspViolations.filter((v) => !hostile(v))).toEqual([]);
    await browser?.close();
    await registry?.stop();
    await upstream?.stop();
    await mavenCentral?.close();
  });

  const expectAccessible = async (name: string) => {
    await screenshot(page, name);
    expect(await seriousViolations(page), name).toEqual([]);
  };

  it('serves the page to browsers with a strict CSP, and JSON to other clients', async () => {
    const html = await fetch(`${registry.url}/`, { headers: { accept: 'text/html' } });
    const csp = html.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await html.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const json = (await (await fetch(`${registry.url}/`)).json()) as { repositories: { name: string }[] };
    expect(json.repositories.map((r) => r.name).sort()).toEqual(['maven-local', 'npm', 'npm-local', 'npm-proxy', 'oci-local', 'pypi-local']);
    // The JSON APIs hide a repository an anonymous caller may not read, as its protocol endpoints do.
    const api = (path: string) => fetch(`${registry.url}/-/api/${path}`);
    const listed = (await (await api('repositories')).json()) as { repositories: { name: string }[] };
    expect(listed.repositories.map((r) => r.name)).not.toContain('npm-private');
    expect((await api('repositories/npm-private')).status).toBe(404);
    expect((await api('repositories/npm-private/packages')).status).toBe(404);
    expect((await api('repositories/npm-private/packages/rc-web-secret')).status).toBe(404);
    expect(((await (await api('search?q=rc-web-secret')).json()) as { items: unknown[] }).items).toEqual([]);
    expect((await fetch(`${registry.url}/npm-private/rc-web-secret`)).status).toBe(401);
  });

  it('lists the repositories a visitor may read', async () => {
    await page.goto(`${registry.url}/`);
    await page.getByRole('link', { name: 'npm-local' }).waitFor();
    const text = await page.locator('main').innerText();
    expect(text).toContain('pypi-local');
    expect(text).not.toContain('npm-private');
    await expectAccessible('repositories');
  });

  it('finds packages of every format by search, deep-linked as /?q=', async () => {
    // With the keyboard: the skip link first, then the name, then the search box.
    await page.goto(`${registry.url}/`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('q');
    await page.keyboard.type('rc-web');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\?q=rc-web$/);
    await page.getByRole('link', { name: 'rc-web-py' }).waitFor();
    await page.goto(`${registry.url}/?q=rc-web`);
    await page.getByRole('link', { name: 'rc-web-demo' }).waitFor();
    await page.getByRole('link', { name: 'rc-web-py' }).waitFor();
    expect(await page.locator('main').innerText()).not.toContain('rc-web-secret');
    await expectAccessible('search');
  });

  it('shows a package: README rendered inert, dependencies, files with digests, its downloads, and a copyable install line', async () => {
    // The tarball fetched while seeding is one download, once the counts are flushed (every second here).
    const counted = async () => ((await (await fetch(`${registry.url}/-/api/repositories/npm/packages/rc-web-demo`)).json()) as { downloads: { downloads: number } | null }).downloads;
    for (let i = 0; (await counted())?.downloads !== 1; i++) {
      if (i > 100) throw new Error(`the download was not counted: ${JSON.stringify(await counted())}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await page.goto(`${registry.url}/?q=demo`);
    await page.getByRole('link', { name: 'rc-web-demo' }).click();
    await page.getByRole('heading', { name: /rc-web-demo/, level: 1 }).waitFor();
    const readme = page.locator('.readme');
    await readme.getByText('Hello from the').waitFor();
    expect(await readme.locator('strong').innerText()).toBe('demo');
    // Nothing of the injections survives: no script, frame, form, handler or javascript: URL.
    expect(await readme.locator('script, iframe, form, input').count()).toBe(0);
    const dangerous = await readme.evaluate((root) =>
      [...root.querySelectorAll('*')].flatMap((el) => [...el.attributes].filter((a) => /^on/i.test(a.name) || /^\s*javascript:/i.test(a.value)).map((a) => `${el.tagName} ${a.name}`)),
    );
    expect(dangerous).toEqual([]);
    if (await page.locator('#clicky').count()) await page.locator('#clicky').click();
    expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
    const main = await page.locator('main').innerText();
    expect(main).toContain('left-pad');
    expect(main).toContain('^1.3.0');
    expect(main).toContain('latest: 1.0.0');
    expect(main).toContain(tarballSha256);
    expect(main).toContain('1 download in the last 30 days (most: 1.0.0 1)');
    expect(await page.getByRole('img', { name: /^1 download from \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d$/ }).count()).toBe(1);
    await page.getByRole('button', { name: 'Copy install line' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`npm install rc-web-demo@1.0.0 --registry ${registry.url}/npm-local/`);
    await expectAccessible('package-npm');
    // A phone-width screen: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    const wider = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      return [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > width + 1 && !el.closest('.table-wrap, pre')).map((el) => `${el.tagName}.${el.className}`);
    });
    expect(wider).toEqual([]);
    await screenshot(page, 'package-npm-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('shows a PyPI package with its README and pip line', async () => {
    await page.goto(`${registry.url}/?repo=pypi-local&pkg=rc-web-py`);
    await page.locator('.readme em').getByText('Python').waitFor();
    const main = await page.locator('main').innerText();
    expect(main).toContain(`pip install --index-url ${registry.url}/pypi-local/simple/ rc-web-py`);
    expect(main).toContain('requests');
    expect(main).toMatch(/rc_web_py-0\.3\.0-py3-none-any\.whl/);
    await expectAccessible('package-pypi');
  });

  it('lists and opens what a proxy cached, also through a group; the upstream\'s other packages are not listed', async () => {
    const api = async <T,>(p: string) => (await (await fetch(`${registry.url}/-/api/${p}`)).json()) as T;
    type Page = { total: number; items: { name: string; repository: string; version: string }[] };
    const cached = await api<Page>('repositories/npm-proxy/packages');
    expect(cached).toMatchObject({ total: 1, items: [{ name: 'rc-up-lib', repository: 'npm-proxy', version: '1.2.0' }] });
    const proxyInfo = await api<{ packages: number }>('repositories/npm-proxy');
    expect(proxyInfo.packages).toBe(1);
    // Paged and filtered through the group with the hosted member's packages.
    const grouped = await api<Page>('repositories/npm/packages?limit=1&offset=1');
    expect(grouped.total).toBe(2);
    expect(grouped.items.map((i) => i.name)).toEqual(['rc-web-demo']);
    expect((await api<Page>('repositories/npm/packages?q=up-lib')).items.map((i) => `${i.repository}/${i.name}`)).toEqual(['npm-proxy/rc-up-lib']);
    expect((await api<Page>('search?q=rc-up')).items.map((i) => `${i.repository}/${i.name}`)).toEqual(['npm-proxy/rc-up-lib']);
    expect((await fetch(`${registry.url}/-/api/repositories/npm-proxy/packages/rc-up-other`)).status).toBe(404);
    // A version the proxy has not cached is not there.
    expect((await fetch(`${registry.url}/-/api/repositories/npm-proxy/packages/rc-up-lib?version=9.9.9`)).status).toBe(404);
    const upstreamTarball = await fetch(`${upstream.url}/npm-up/rc-up-lib/-/rc-up-lib-1.2.0.tgz`);
    const upstreamSha256 = createHash('sha256').update(Buffer.from(await upstreamTarball.arrayBuffer())).digest('hex');

    await page.goto(`${registry.url}/?repo=npm`);
    await page.getByRole('link', { name: 'rc-up-lib' }).click();
    await page.getByRole('heading', { name: /rc-up-lib/, level: 1 }).waitFor();
    const main = await page.locator('main').innerText();
    expect(main).toContain('1.2.0');
    expect(main).toContain('rc-up-lib-1.2.0.tgz');
    expect(main).toContain(upstreamSha256);
    await expectAccessible('package-npm-proxy');
  });

  it('shows an OCI image pushed by skopeo and a Maven artifact deployed by mvn, each with its format\'s view', async () => {
    await page.goto(`${registry.url}/?repo=oci-local`);
    await page.getByRole('link', { name: 'rc-web/image' }).click();
    await page.getByRole('heading', { name: /rc-web\/image/, level: 1 }).waitFor();
    // The format's own view: the index's platforms and the pull line.
    await page.getByText('linux/arm64').first().waitFor();
    const oci = await page.locator('main').innerText();
    expect(oci).toContain('1.0');
    expect(oci).toContain('linux/amd64');
    expect(oci).toMatch(/docker pull \S+\/oci-local\/rc-web\/image:1\.0/);
    await expectAccessible('package-oci');
    await page.goto(`${registry.url}/?repo=maven-local`);
    await page.getByRole('link', { name: 'org.rcweb:web-lib' }).click();
    await page.getByRole('heading', { name: /web-lib/, level: 1 }).waitFor();
    // The format's own view: the version's files and the dependency lines.
    await page.getByText('web-lib-1.0.jar').first().waitFor();
    const maven = await page.locator('main').innerText();
    expect(maven).toContain('1.0');
    expect(maven).toContain('<artifactId>web-lib</artifactId>');
    await expectAccessible('package-maven');
  });

  it('lists a repository\'s packages with a filter, and sets up a client', async () => {
    await page.goto(`${registry.url}/?repo=npm`);
    await page.getByRole('link', { name: 'rc-web-demo' }).waitFor();
    await page.getByLabel('Filter packages').fill('nothing-like-this');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No packages found.').waitFor();
    await expectAccessible('repository-packages');
    await page.goto(`${registry.url}/?setup=npm`);
    await page.getByRole('heading', { name: 'Set me up: npm' }).waitFor();
    // The heading comes before the repository's answer: the lines are there once the copy button is.
    await page.getByRole('button', { name: 'Copy client configuration' }).waitFor();
    expect(await page.locator('main').innerText()).toContain(`npm config set registry ${registry.url}/npm/`);
    await page.getByRole('button', { name: 'Copy client configuration' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toContain(`npm config set registry ${registry.url}/npm/`);
    await expectAccessible('set-me-up');
  });

  it('signs in with a password, shows the private package, creates a token shown once and revokes it', async () => {
    await page.goto(`${registry.url}/?view=signin`);
    await expectAccessible('sign-in');
    await page.getByLabel('User name').fill('webuser');
    await page.getByLabel('Password', { exact: true }).fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').getByText('Wrong user name, password or token.').waitFor();
    await page.getByLabel('Password', { exact: true }).fill('correct-horse-battery');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('webuser').waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === 'rc_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // A write with the cookie but without the CSRF token is refused.
    const forged = await fetch(`${registry.url}/-/api/tokens`, { method: 'POST', headers: { cookie: `rc_session=${cookie.value}`, 'content-type': 'application/json' }, body: '{}' });
    expect(forged.status).toBe(403);
    await page.getByRole('link', { name: 'npm-private' }).waitFor();
    await page.goto(`${registry.url}/?q=rc-web-secret`);
    await page.getByRole('link', { name: 'rc-web-secret' }).waitFor();

    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByLabel('Description').fill('ci pipeline');
    await page.getByLabel('Expires in (days)').fill('7');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = (await page.locator('.notice pre').innerText()).trim();
    expect(shown).toMatch(/^rc_/);
    const asUser = await fetch(`${registry.url}/-/api/session`, { headers: { authorization: `Bearer ${shown}` } });
    expect(((await asUser.json()) as { user: string }).user).toBe('webuser');
    await expectAccessible('tokens');
    await page.getByRole('button', { name: 'Done' }).click();
    // Shown once: the list has its prefix only.
    expect(await page.locator('main').innerText()).not.toContain(shown);
    await page.getByRole('button', { name: /Revoke token .*ci pipeline/ }).click();
    await page.getByRole('button', { name: /Revoke token .*ci pipeline/ }).waitFor({ state: 'detached' });
    expect((await fetch(`${registry.url}/-/api/session`, { headers: { authorization: `Bearer ${shown}` } })).status).toBe(401);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    await page.goto(`${registry.url}/?q=rc-web-secret`);
    await page.getByText('0 found').waitFor();
    // The session's token is gone with the sign-out.
    expect((await fetch(`${registry.url}/-/api/session`, { headers: { authorization: `Bearer ${cookie.value}` } })).status).toBe(401);
  });

  it('lets an administrator add a user, change roles, see the audit log and the permission rules; others get no admin area', async () => {
    expect((await fetch(`${registry.url}/-/admin/users`)).status).toBe(401);
    await page.goto(`${registry.url}/?view=signin`);
    await page.getByLabel('User name').fill('webadmin');
    await page.getByLabel('Password', { exact: true }).fill('admin-horse-battery');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
    await page.getByRole('cell', { name: 'webuser', exact: true }).first().waitFor();
    await page.getByLabel('User name').fill('newcomer');
    await page.getByLabel('Password (at least 8 characters)').fill('newcomer-password');
    await page.getByLabel('Roles (comma-separated)').fill('publisher');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByText('User newcomer added.').waitFor();
    await page.getByRole('cell', { name: 'publisher' }).waitFor();
    // A session of the new user, then the administrator disables them: the session's token and
    // their password are refused at once (401); the list says so.
    const signIn = () => fetch(`${registry.url}/-/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'newcomer', password: 'newcomer-password' }) });
    const newcomerSession = await signIn();
    expect(newcomerSession.status).toBe(200);
    const newcomerToken = /rc_session=([^;]+)/.exec(newcomerSession.headers.get('set-cookie') ?? '')![1]!;
    const sessionWith = (token: string) => fetch(`${registry.url}/-/api/session`, { headers: { authorization: `Bearer ${token}` } });
    expect((await sessionWith(newcomerToken)).status).toBe(200);
    // A private tarball read twice with that token: the second answer may be the hot path's replay.
    const secretTarball = async () => {
      const answer = await fetch(`${registry.url}/npm-private/rc-web-secret/-/rc-web-secret-2.0.0.tgz`, { headers: { authorization: `Bearer ${newcomerToken}` } });
      await answer.arrayBuffer();
      return answer.status;
    };
    expect([await secretTarball(), await secretTarball()]).toEqual([200, 200]);
    // The signed-in administrator's own row offers no Disable (the server refuses it).
    await page.getByRole('button', { name: 'Password of webadmin' }).waitFor();
    expect(await page.getByRole('button', { name: 'Disable webadmin' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Disable newcomer' }).click();
    await page.getByText('User newcomer disabled').waitFor();
    await page.getByRole('button', { name: 'Enable newcomer' }).waitFor();
    expect((await sessionWith(newcomerToken)).status).toBe(401);
    expect((await signIn()).status).toBe(401);
    // No replay either: refused at once.
    expect(await secretTarball()).toBe(401);
    // The audit log filtered by action. The section loads the filtered list once: right after
    // the filter is applied it says "Loading…" (it never shows the unfiltered list as the
    // answer), then the filtered list, and nothing after it.
    const auditSection = page.locator('section[aria-labelledby="audit-heading"]');
    await auditSection.getByRole('cell', { name: 'user.create' }).first().waitFor();
    const auditLoads: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/-/admin/audit')) auditLoads.push(r.url());
    });
    await page.getByLabel('Action').fill('user.disable');
    const rightAfterApplying = await auditSection.evaluate(async (section) => {
      const loadings: string[] = [];
      let loading = false;
      new MutationObserver(() => {
        const now = section.textContent?.includes('Loading…') ?? false;
        if (now && !loading) loadings.push('loading');
        loading = now;
      }).observe(section, { childList: true, subtree: true, characterData: true });
      (window as unknown as { __auditLoadings: string[] }).__auditLoadings = loadings;
      [...section.querySelectorAll('button')].find((b) => b.textContent === 'Show')!.click();
      // The app renders in microtasks; effects wait for the next frame.
      for (let i = 0; i < 20; i++) await Promise.resolve();
      return section.textContent ?? '';
    });
    expect(rightAfterApplying).toContain('Loading…');
    expect(rightAfterApplying).not.toContain('login');
    await auditSection.getByRole('cell', { name: 'user.disable' }).waitFor();
    const audit = await auditSection.innerText();
    expect(audit).not.toContain('Loading…');
    expect(audit).toContain('user=newcomer');
    expect(audit).toContain('webadmin');
    expect(audit).not.toContain('login');
    expect(await page.locator('section[aria-labelledby="permissions-heading"]').innerText()).toContain('npm-private');
    expect(audit).not.toContain('user.create');
    expect(auditLoads).toEqual([expect.stringContaining('action=user.disable')]);
    expect(await page.evaluate(() => (window as unknown as { __auditLoadings: string[] }).__auditLoadings)).toEqual(['loading']);
    await page.getByRole('button', { name: 'Cache cleanup dry run' }).click();
    await page.getByText('"dryRun": true').waitFor();
    await expectAccessible('admin');
    await page.getByRole('button', { name: 'Sign out' }).click();
    // Enabled again with the CLI (another process on the same metadata store): the old session
    // token and the password work again.
    const enabled = await runCli(['user', 'enable', 'newcomer', '--config', registry.configFile]);
    expect(enabled.code, enabled.stderr).toBe(0);
    expect((await sessionWith(newcomerToken)).status).toBe(200);
    expect(await secretTarball()).toBe(200);
    // A user without the admin role is refused by the API and shown no admin link.
    const session = await signIn();
    const cookie = /rc_session=[^;]+/.exec(session.headers.get('set-cookie') ?? '')![0];
    expect(((await session.json()) as { admin: boolean }).admin).toBe(false);
    expect((await fetch(`${registry.url}/-/admin/users`, { headers: { cookie } })).status).toBe(403);
  });
});
