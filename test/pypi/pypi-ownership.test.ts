// Who answers for a name in a PyPI group, with the real pip and twine: a project a hosted
// member holds is served from that member alone, however a hostile upstream or a second
// hosted member (written by another user) offers the same name; a `routing` claim keeps a
// namespace away from the proxy before anything is published; writes through the group go
// to the owner, and a refused one is in the audit log.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingProxy, type CountingProxy } from '../helpers/oci.js';
import { buildProject, makeVenv, run, twineUpload } from '../helpers/python.js';
import { createUserAndToken, runCli, startRegistry, type RunningRegistry } from '../helpers/registry-process.js';

describe('PyPI group ownership with pip and twine', () => {
  let hostile: RunningRegistry;
  let forwarder: CountingProxy;
  let node: RunningRegistry;
  let owner: string;
  let intruder: string;
  let ownedV1: Awaited<ReturnType<typeof buildProject>>;

  beforeAll(async () => {
    // The hostile upstream offers the names the registry's users publish, at higher versions.
    hostile = await startRegistry(`repositories:\n  py-local: { format: pypi, type: hosted }\n`);
    const seed = await createUserAndToken(hostile.configFile, 'seed');
    for (const project of [
      { name: 'rc-owned', version: '9.0.0', module: 'rc_owned' },
      { name: 'acme-secret', version: '1.0.0', module: 'acme_secret' },
      { name: 'rc-upstream-only', version: '1.0.0', module: 'rc_upstream_only' },
    ]) {
      const built = await buildProject(project);
      const seeded = await twineUpload(`${hostile.url}/py-local/`, '__token__', seed, [built.wheel]);
      expect(seeded.code, seeded.stdout + seeded.stderr).toBe(0);
    }
    forwarder = await countingProxy(hostile.url);
    node = await startRegistry(`repositories:
  pypi-local: { format: pypi, type: hosted }
  pypi-team: { format: pypi, type: hosted }
  pypi-proxy: { format: pypi, type: proxy, upstream: "${forwarder.url}/py-local/simple/" }
  pypi:
    format: pypi
    type: group
    members: [pypi-local, pypi-team, pypi-proxy]
    # rc-owned is the hostile upstream's too: uploading it to a hosted member at all needs a
    # claim (else refused as shadowing); claimed for both, pypi-local (first) owns it.
    routing: { "acme-*": [pypi-local], "rc-owned": [pypi-local, pypi-team] }
auth:
  permissions:
    - { repositories: ["pypi-local"], write: [owner], delete: [owner] }
    - { repositories: ["pypi-team"], write: [owner, intruder], delete: [owner] }
`);
    owner = await createUserAndToken(node.configFile, 'owner');
    intruder = await createUserAndToken(node.configFile, 'intruder');
    ownedV1 = await buildProject({ name: 'rc-owned', version: '1.0.0', module: 'rc_owned' });
    const published = await twineUpload(`${node.url}/pypi-local/`, '__token__', owner, [ownedV1.wheel, ownedV1.sdist]);
    expect(published.code, published.stdout + published.stderr).toBe(0);
    // Another user, allowed to write the second hosted member only, publishes the same name there.
    const injected = await buildProject({ name: 'rc-owned', version: '5.0.0', module: 'rc_owned' });
    const pushed = await twineUpload(`${node.url}/pypi-team/`, '__token__', intruder, [injected.wheel]);
    expect(pushed.code, pushed.stdout + pushed.stderr).toBe(0);
  }, 240_000);

  afterAll(async () => {
    await node?.stop();
    await forwarder?.close();
    await hostile?.stop();
  });

  it('serves an owned project from its hosted owner alone: page, JSON API and files', async () => {
    const page = await fetch(`${node.url}/pypi/simple/rc-owned/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('x-registry-member')).toBe('pypi-local');
    const body = (await page.json()) as { versions: string[]; files: { filename: string }[] };
    expect(body.versions).toEqual(['1.0.0']);
    expect(body.files.map((f) => f.filename).sort()).toEqual([path.basename(ownedV1.sdist), path.basename(ownedV1.wheel)].sort());
    const api = (await (await fetch(`${node.url}/pypi/pypi/rc-owned/json`)).json()) as { info: { version: string }; releases: Record<string, unknown> };
    expect(api.info.version).toBe('1.0.0');
    expect(Object.keys(api.releases)).toEqual(['1.0.0']);
    // The second member's and the upstream's files are not reachable through the group.
    expect((await fetch(`${node.url}/pypi/packages/rc-owned/rc_owned-5.0.0-py3-none-any.whl`)).status).toBe(404);
    expect((await fetch(`${node.url}/pypi/packages/rc-owned/rc_owned-9.0.0-py3-none-any.whl`)).status).toBe(404);
    // The upstream was never asked for the owned name.
    expect(forwarder.requests.filter((p) => p.includes('rc-owned') || p.includes('rc_owned'))).toEqual([]);
  });

  it('pip installs the owner\'s release, not the higher versions offered elsewhere', async () => {
    const venv = await makeVenv();
    const installed = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--index-url', `${node.url}/pypi/simple/`, 'rc-owned']);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    expect(installed.stdout).toMatch(/Successfully installed rc-owned-1\.0\.0/);
    const pinned = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--index-url', `${node.url}/pypi/simple/`, 'rc-owned==9.0.0']);
    expect(pinned.code).not.toBe(0);
  });

  it('never asks the proxy for a claimed name, even before anything is published under it', async () => {
    const before = forwarder.requests.length;
    const page = await fetch(`${node.url}/pypi/simple/acme-secret/`);
    expect(page.status).toBe(404);
    const venv = await makeVenv();
    const installed = await run(path.join(venv, 'bin', 'pip'), ['install', '--no-cache-dir', '--index-url', `${node.url}/pypi/simple/`, 'acme-secret']);
    expect(installed.code).not.toBe(0);
    expect(forwarder.requests.slice(before)).toEqual([]);
    // An unclaimed name nobody hosts still comes through the proxy (the forwarder counts it).
    const proxied = await fetch(`${node.url}/pypi/simple/rc-other/`);
    expect(proxied.status).toBe(404);
    expect(forwarder.requests.slice(before).some((p) => p.includes('rc-other'))).toBe(true);
  });

  it('sends uploads through the group to the owner, and audits a refused one', async () => {
    const v2 = await buildProject({ name: 'rc-owned', version: '2.0.0', module: 'rc_owned' });
    const uploaded = await twineUpload(`${node.url}/pypi/`, '__token__', owner, [v2.wheel]);
    expect(uploaded.code, uploaded.stdout + uploaded.stderr).toBe(0);
    const local = (await (await fetch(`${node.url}/pypi-local/simple/rc-owned/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { versions: string[] };
    expect(local.versions).toEqual(['1.0.0', '2.0.0']);
    // The intruder may write pypi-team, but the name belongs to pypi-local: refused, not rerouted.
    const v3 = await buildProject({ name: 'rc-owned', version: '3.0.0', module: 'rc_owned' });
    const refused = await twineUpload(`${node.url}/pypi/`, '__token__', intruder, [v3.wheel]);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/403/);
    const team = (await (await fetch(`${node.url}/pypi-team/simple/rc-owned/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { versions: string[] };
    expect(team.versions).toEqual(['5.0.0']);
    const audit = await runCli(['audit', '--config', node.configFile, '--action', 'group.write-refused', '--json']);
    expect(audit.code, audit.stderr).toBe(0);
    const events = JSON.parse(audit.stdout) as { principal: string; repository: string; package: string; outcome: string; details: { member: string; status: number } }[];
    expect(events).toEqual([expect.objectContaining({ principal: 'intruder', repository: 'pypi', package: 'rc-owned', outcome: 'denied', details: expect.objectContaining({ member: 'pypi-local', status: 403 }) })]);
    // A new name goes to the first hosted member.
    const fresh = await buildProject({ name: 'rc-fresh', version: '1.0.0', module: 'rc_fresh' });
    const created = await twineUpload(`${node.url}/pypi/`, '__token__', owner, [fresh.wheel]);
    expect(created.code, created.stdout + created.stderr).toBe(0);
    expect((await fetch(`${node.url}/pypi-local/simple/rc-fresh/`)).status).toBe(200);
  });

  it('asks the proxy before a new unclaimed project is uploaded: refused when its upstream serves it, taken when not', async () => {
    // The kernel asks the proxy for the project's simple page (PyPI's own representation).
    const shadowing = await buildProject({ name: 'rc-upstream-only', version: '2.0.0', module: 'rc_upstream_only' });
    const refused = await twineUpload(`${node.url}/pypi-team/`, '__token__', intruder, [shadowing.wheel]);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/403/);
    const fresh = await buildProject({ name: 'rc-fresh-name', version: '1.0.0', module: 'rc_fresh_name' });
    const taken = await twineUpload(`${node.url}/pypi-team/`, '__token__', intruder, [fresh.wheel]);
    expect(taken.code, taken.stdout + taken.stderr).toBe(0);
  }, 120_000);
});
