// The PyPI format driven by the real clients: twine uploads wheels and sdists built here to
// a hosted repository, pip installs them from a group together with a dependency that
// comes through a proxy (whose upstream is another registry-core's hosted repository,
// seeded by twine), with --require-hashes, and after the upstream is stopped.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POETRY, PYTHON, buildProject, makeVenv, run, twineUpload } from '../helpers/python.js';
import { createUserAndToken, runCli, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('PyPI with pip and twine', () => {
  let upstream: RunningRegistry;
  let node: RunningRegistry;
  let token: string;
  let app: Awaited<ReturnType<typeof buildProject>>;
  let dep: Awaited<ReturnType<typeof buildProject>>;
  let dep2: Awaited<ReturnType<typeof buildProject>>;
  let group: string;

  beforeAll(async () => {
    upstream = await startRegistry(`repositories:\n  py-local: { format: pypi, type: hosted }\n`);
    const seedToken = await createUserAndToken(upstream.configFile, 'seed');
    dep = await buildProject({ name: 'rc-dep-lib', version: '1.0.0', module: 'rc_dep', requiresPython: '>=3.8' });
    dep2 = await buildProject({ name: 'rc-dep-lib', version: '1.1.0', module: 'rc_dep', requiresPython: '>=3.8' });
    for (const built of [dep, dep2]) {
      const seeded = await twineUpload(`${upstream.url}/py-local/`, '__token__', seedToken, [built.wheel, built.sdist]);
      expect(seeded.code, seeded.stdout + seeded.stderr).toBe(0);
    }
    node = await startRegistry(`repositories:
  pypi-local: { format: pypi, type: hosted }
  pypi-proxy: { format: pypi, type: proxy, upstream: "${upstream.url}/py-local/simple/" }
  pypi: { format: pypi, type: group, members: [pypi-local, pypi-proxy] }
`);
    token = await createUserAndToken(node.configFile, 'pat');
    group = `${node.url}/pypi/simple/`;
    app = await buildProject({ name: 'rc-demo-app', version: '1.0.0', module: 'rc_demo', requires: ['rc-dep-lib>=1.0'] });
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
  });

  it('twine uploads a wheel and an sdist, and refuses the same file twice', async () => {
    const uploaded = await twineUpload(`${node.url}/pypi-local/`, '__token__', token, [app.wheel, app.sdist]);
    expect(uploaded.code, uploaded.stdout + uploaded.stderr).toBe(0);
    const again = await twineUpload(`${node.url}/pypi-local/`, '__token__', token, [app.wheel]);
    expect(again.code).not.toBe(0);
    expect(again.stdout + again.stderr).toMatch(/400/);
    expect(again.stdout + again.stderr).toMatch(/File already exists/);
    // twine's --skip-existing recognises the answer and goes on.
    const skipped = await twineUpload(`${node.url}/pypi-local/`, '__token__', token, [app.wheel], ['--skip-existing']);
    expect(skipped.code, skipped.stdout + skipped.stderr).toBe(0);
    // A wrong password, and a proxy that takes no uploads.
    const wrong = await twineUpload(`${node.url}/pypi-local/`, '__token__', 'not-a-token', [app.wheel]);
    expect(wrong.stdout + wrong.stderr).toMatch(/401|403/);
    const toProxy = await twineUpload(`${node.url}/pypi-proxy/`, '__token__', token, [app.wheel]);
    expect(toProxy.stdout + toProxy.stderr).toMatch(/405/);
  });

  it('serves PEP 503 HTML and PEP 691 JSON pages, with redirects to the normalized name', async () => {
    const html = await fetch(`${node.url}/pypi-local/simple/rc-demo-app/`);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(html.headers.get('vary')).toMatch(/Accept/);
    const text = await html.text();
    expect(text).toContain(`rc_demo_app-1.0.0-py3-none-any.whl#sha256=${sha256(app.wheel)}`);
    expect(text).toMatch(/data-core-metadata="sha256=[0-9a-f]{64}"/);
    const json = await fetch(`${node.url}/pypi-local/simple/rc-demo-app/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    expect(json.headers.get('content-type')).toBe('application/vnd.pypi.simple.v1+json');
    const page = (await json.json()) as { meta: unknown; versions: string[]; files: { filename: string; size: number; 'upload-time': string; 'core-metadata': { sha256: string }; url: string }[] };
    expect(page.meta).toEqual({ 'api-version': '1.1' });
    expect(page.versions).toEqual(['1.0.0']);
    const wheel = page.files.find((f) => f.filename.endsWith('.whl'))!;
    expect(wheel.size).toBe(readFileSync(app.wheel).length);
    expect(wheel['upload-time']).toMatch(/^\d{4}-\d\d-\d\dT/);
    // PEP 658: the metadata file beside the wheel, matching its announced hash.
    const metadata = Buffer.from(await (await fetch(`${wheel.url}.metadata`)).arrayBuffer());
    expect(createHash('sha256').update(metadata).digest('hex')).toBe(wheel['core-metadata'].sha256);
    expect(metadata.toString()).toMatch(/^Name: rc-demo-app$/m);
    const moved = await fetch(`${node.url}/pypi-local/simple/RC_Demo.App`, { redirect: 'manual' });
    expect(moved.status).toBe(301);
    expect(moved.headers.get('location')).toBe(`${node.url}/pypi-local/simple/rc-demo-app/`);
    expect((await fetch(`${node.url}/pypi-local/simple/rc-demo-app/`, { headers: { accept: 'application/xml' } })).status).toBe(406);
    expect((await fetch(`${node.url}/pypi-local/simple/no-such-project/`)).status).toBe(404);
  });

  it('pip installs from the group: the hosted project and its dependency through the proxy', async () => {
    const venv = await makeVenv();
    const installed = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--index-url', group, 'rc-demo-app']);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(installed.stdout).toMatch(/Successfully installed rc-demo-app-1.0.0 rc-dep-lib-1.1.0/);
    const imported = await run(path.join(venv, 'bin', 'python'), ['-c', 'import rc_demo, rc_dep; print(rc_demo.VERSION, rc_dep.VERSION)']);
    expect(imported.stdout.trim()).toBe('1.0.0 1.1.0');
  });

  it('poetry resolves, locks and installs from the group', async () => {
    const project = tempDir('poetry');
    writeFileSync(
      path.join(project, 'pyproject.toml'),
      [
        '[tool.poetry]',
        'name = "consumer"',
        'version = "0.1.0"',
        'description = ""',
        'authors = ["t <t@example.com>"]',
        '',
        '[tool.poetry.dependencies]',
        'python = "^3.9"',
        'rc-demo-app = "^1.0"',
        '',
        '[[tool.poetry.source]]',
        'name = "registry"',
        `url = "${group}"`,
        'default = true',
        '',
      ].join('\n'),
    );
    const installed = await run(POETRY, ['install', '--no-root', '--no-interaction'], { cwd: project, home: project, env: { POETRY_VIRTUALENVS_IN_PROJECT: 'true', POETRY_CACHE_DIR: path.join(project, '.cache') } });
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(installed.stdout).toMatch(/Installing rc-dep-lib \(1\.1\.0\)/);
    expect(installed.stdout).toMatch(/Installing rc-demo-app \(1\.0\.0\)/);
    const lock = readFileSync(path.join(project, 'poetry.lock'), 'utf8');
    expect(lock).toContain(sha256(app.wheel));
  });

  it('pip with --require-hashes, pip download and pip index versions', async () => {
    const requirements = path.join(tempDir('py-req'), 'requirements.txt');
    writeFileSync(requirements, `rc-demo-app==1.0.0 --hash=sha256:${sha256(app.wheel)}\nrc-dep-lib==1.0.0 --hash=sha256:${sha256(dep.wheel)}\n`);
    const venv = await makeVenv();
    const hashed = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--only-binary', ':all:', '--require-hashes', '--index-url', group, '-r', requirements]);
    expect(hashed.code, hashed.stdout + hashed.stderr).toBe(0);
    // A wrong hash is refused by pip.
    writeFileSync(requirements, `rc-dep-lib==1.0.0 --hash=sha256:${'0'.repeat(64)}\n`);
    const refused = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--force-reinstall', '--require-hashes', '--index-url', group, '-r', requirements]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/THESE PACKAGES DO NOT MATCH THE HASHES/);
    const downloads = tempDir('py-download');
    const downloaded = await run(path.join(venv, 'bin', 'pip'), ['download', '--no-cache-dir', '--no-deps', '--no-binary', ':all:', '--index-url', group, '-d', downloads, 'rc-dep-lib==1.0.0']);
    expect(downloaded.code, downloaded.stdout + downloaded.stderr).toBe(0);
    expect(readdirSync(downloads)).toEqual(['rc-dep-lib-1.0.0.tar.gz']);
    expect(sha256(path.join(downloads, 'rc-dep-lib-1.0.0.tar.gz'))).toBe(sha256(dep.sdist));
    const versions = await run(path.join(venv, 'bin', 'pip'), ['index', 'versions', '--index-url', group, 'rc-dep-lib']);
    expect(versions.code, versions.stderr).toBe(0);
    expect(versions.stdout).toMatch(/Available versions: 1\.1\.0, 1\.0\.0/);
  });

  it('answers the JSON API from the pages', async () => {
    const project = (await (await fetch(`${node.url}/pypi-local/pypi/rc-demo-app/json`)).json()) as { info: { name: string; version: string; requires_dist: string[]; summary: string }; releases: Record<string, unknown[]> };
    expect(project.info).toMatchObject({ name: 'rc-demo-app', version: '1.0.0', summary: 'rc-demo-app for registry-core tests' });
    // As the wheel's METADATA says it (this setuptools writes the old "name (>=x)" form).
    expect(project.info.requires_dist).toEqual([expect.stringMatching(/^rc-dep-lib \(?>=1\.0\)?$/)]);
    expect(Object.keys(project.releases)).toEqual(['1.0.0']);
    const release = (await (await fetch(`${node.url}/pypi/pypi/rc-dep-lib/1.0.0/json`)).json()) as { info: { version: string }; urls: { filename: string }[] };
    expect(release.info.version).toBe('1.0.0');
    expect(release.urls.map((u) => u.filename).sort()).toEqual(['rc-dep-lib-1.0.0.tar.gz', 'rc_dep_lib-1.0.0-py3-none-any.whl']);
  });

  it('yanks and deletes through the admin API; a yanked release is skipped unless pinned', async () => {
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const v2 = await buildProject({ name: 'rc-demo-app', version: '1.1.0', module: 'rc_demo', requires: ['rc-dep-lib>=1.0'] });
    expect((await twineUpload(`${node.url}/pypi/`, '__token__', token, [v2.wheel])).code).toBe(0);
    const yank = await fetch(`${node.url}/pypi-local/-/yank`, { method: 'POST', headers: auth, body: JSON.stringify({ project: 'rc-demo-app', version: '1.1.0', reason: 'broken build' }) });
    expect(yank.status).toBe(200);
    expect(await (await fetch(`${node.url}/pypi/simple/rc-demo-app/`)).text()).toContain('data-yanked="broken build"');
    const venv = await makeVenv();
    const latest = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--index-url', group, 'rc-demo-app']);
    expect(latest.stdout).toMatch(/Successfully installed rc-demo-app-1\.0\.0/);
    const pinned = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--index-url', group, 'rc-demo-app==1.1.0']);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stderr).toMatch(/yanked/i);
    // The same management endpoints from the command line, without a server or a token.
    const unyank = await runCli(['call', 'pypi-local', 'POST', '/-/unyank', '--json', JSON.stringify({ project: 'rc-demo-app', version: '1.1.0' }), '--as', 'ops', '--config', node.configFile]);
    expect(unyank.code, unyank.stderr).toBe(0);
    expect(JSON.parse(unyank.stdout)).toEqual({ unyanked: 1 });
    expect(await (await fetch(`${node.url}/pypi/simple/rc-demo-app/`)).text()).not.toContain('data-yanked');
    const audit = await runCli(['audit', '--action', 'unyank', '--json', '--config', node.configFile]);
    expect((JSON.parse(audit.stdout) as { principal: string; package: string }[]).map((e) => [e.principal, e.package])).toEqual([['ops', 'rc-demo-app']]);
    const refused = await runCli(['call', 'pypi-local', 'POST', '/-/yank', '--json', JSON.stringify({ project: 'no-such-project', version: '1.0' }), '--config', node.configFile]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^404 [^]*project no-such-project is not in pypi-local/);
    const deleted = await fetch(`${node.url}/pypi-local/-/delete`, { method: 'POST', headers: auth, body: JSON.stringify({ project: 'rc-demo-app', version: '1.1.0' }) });
    expect(await deleted.json()).toEqual({ deleted: ['rc_demo_app-1.1.0-py3-none-any.whl'] });
    expect(await (await fetch(`${node.url}/pypi-local/simple/rc-demo-app/`)).text()).not.toContain('1.1.0');
    // The filename stays taken, as on PyPI.
    const reupload = await twineUpload(`${node.url}/pypi-local/`, '__token__', token, [v2.wheel]);
    expect(reupload.stdout + reupload.stderr).toMatch(/File already exists/);
    const anonymous = await fetch(`${node.url}/pypi-local/-/delete`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ project: 'rc-demo-app' }) });
    expect(anonymous.status).toBe(401);
  });

  it('refuses bad uploads with a clear 4xx and changes nothing', async () => {
    const auth = `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}`;
    const pageBefore = await (await fetch(`${node.url}/pypi-local/simple/rc-demo-app/`)).text();
    const dir = tempDir('py-bad');
    /** A wheel written by Python's zipfile, with `extra` Python lines adding entries to `z`. */
    const wheel = (filename: string, metadataName: string, version: string, extra = '') => {
      const file = path.join(dir, filename);
      const script = `import zipfile, sys\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    z.writestr('${metadataName.replace(/-/g, '_')}-${version}.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: ${metadataName}\\nVersion: ${version}\\n')\n${extra}`;
      execFileSync(PYTHON, ['-c', script, file]);
      return file;
    };
    const upload = async (file: string | Buffer, filename: string, fields: Record<string, string>, headers: Record<string, string> = { authorization: auth }) => {
      const form = new FormData();
      form.append(':action', 'file_upload');
      form.append('protocol_version', '1');
      for (const [key, value] of Object.entries(fields)) form.append(key, value);
      form.append('content', new Blob([typeof file === 'string' ? readFileSync(file) : file]), filename);
      const answer = await fetch(`${node.url}/pypi-local/`, { method: 'POST', body: form, headers });
      return { status: answer.status, text: await answer.text(), reason: answer.statusText };
    };
    const fields = (name: string, version: string) => ({ name, version, filetype: 'bdist_wheel' });
    const cases: { what: string; send: () => Promise<{ status: number; text: string; reason: string }>; status: number; message: RegExp }[] = [
      { what: 'a filename for another version', send: () => upload(wheel('rc_demo_app-9.0-py3-none-any.whl', 'rc-demo-app', '9.0'), 'rc_demo_app-9.0-py3-none-any.whl', fields('rc-demo-app', '8.0')), status: 400, message: /another project or version/ },
      { what: 'metadata naming another project', send: () => upload(wheel('rc_demo_app-2.0-py3-none-any.whl', 'rc-other', '2.0'), 'rc_demo_app-2.0-py3-none-any.whl', fields('rc-demo-app', '2.0')), status: 400, message: /is not for rc_demo_app 2.0|metadata names/ },
      { what: 'a symlink inside', send: () => upload(wheel('rc_demo_app-2.1-py3-none-any.whl', 'rc-demo-app', '2.1', "    i = zipfile.ZipInfo('rc_demo/link'); i.external_attr = 0o120777 << 16\n    z.writestr(i, '/etc/passwd')\n"), 'rc_demo_app-2.1-py3-none-any.whl', fields('rc-demo-app', '2.1')), status: 400, message: /symbolic link/ },
      { what: 'a ".." entry', send: () => upload(wheel('rc_demo_app-2.2-py3-none-any.whl', 'rc-demo-app', '2.2', "    z.writestr('../../evil.py', 'x')\n"), 'rc_demo_app-2.2-py3-none-any.whl', fields('rc-demo-app', '2.2')), status: 400, message: /relative path|\.\." segment/ },
      { what: 'a zip bomb', send: () => upload(wheel('rc_demo_app-2.3-py3-none-any.whl', 'rc-demo-app', '2.3', "    with z.open('rc_demo/zeros', 'w') as f:\n        for _ in range(64): f.write(bytes(1 << 20))\n"), 'rc_demo_app-2.3-py3-none-any.whl', fields('rc-demo-app', '2.3')), status: 400, message: /zip bomb/ },
      { what: 'a file that is not a zip', send: () => upload(Buffer.from('plain text'), 'rc_demo_app-2.4-py3-none-any.whl', fields('rc-demo-app', '2.4')), status: 400, message: /not a zip file/ },
      { what: 'traversal in the filename', send: () => upload(Buffer.from('x'), '../rc_demo_app-2.5-py3-none-any.whl', fields('rc-demo-app', '2.5')), status: 400, message: /Invalid distribution filename/ },
      { what: 'another spelling of an existing project', send: () => upload(wheel('RC_Demo.App-2.6-py3-none-any.whl', 'RC_Demo.App', '2.6'), 'RC_Demo.App-2.6-py3-none-any.whl', fields('RC_Demo.App', '2.6')), status: 400, message: /another spelling of the existing project "rc-demo-app"/ },
      { what: 'an invalid version', send: () => upload(Buffer.from('x'), 'rc_demo_app-latest-py3-none-any.whl', fields('rc-demo-app', 'latest')), status: 400, message: /Invalid value for version/ },
      { what: 'no credentials', send: () => upload(Buffer.from('x'), 'rc_demo_app-2.7-py3-none-any.whl', fields('rc-demo-app', '2.7'), {}), status: 401, message: /authentication required/ },
      { what: 'a wrong password', send: () => upload(Buffer.from('x'), 'rc_demo_app-2.8-py3-none-any.whl', fields('rc-demo-app', '2.8'), { authorization: `Basic ${Buffer.from('pat:wrong-password').toString('base64')}` }), status: 401, message: /./ },
    ];
    for (const c of cases) {
      const answer = await c.send();
      expect(answer.status, `${c.what}: ${answer.text}`).toBe(c.status);
      expect(answer.text, c.what).toMatch(c.message);
      // twine shows the status line: the message is in it too.
      if (c.status === 400) expect(answer.reason, c.what).toMatch(c.message);
    }
    expect(await (await fetch(`${node.url}/pypi-local/simple/rc-demo-app/`)).text()).toBe(pageBefore);
    expect((await fetch(`${node.url}/pypi-local/simple/rc-other/`)).status).toBe(404);
  });

  it('keeps installing through the proxy after the upstream is stopped', async () => {
    await upstream.stop();
    const venv = await makeVenv();
    const installed = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--index-url', group, 'rc-demo-app==1.0.0', 'rc-dep-lib==1.1.0']);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(installed.stdout).toMatch(/Successfully installed rc-demo-app-1.0.0 rc-dep-lib-1.1.0/);
  });
});
