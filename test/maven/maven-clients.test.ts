// The Maven format driven by the real mvn (3.8): a multi-module project deployed to hosted
// repositories, release and SNAPSHOT (twice: two timestamped builds); a second project
// resolved through a group into an empty local repository, its dependencies and every build
// plugin coming through proxies: one of another registry-core's hosted repository (seeded by
// mvn deploy), one of a plain Maven 2 layout server over the machine's local repository.
// Then both upstreams are stopped and the build resolves again, from the cache.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_M2, distributionManagement, mvn, serveMavenFolder, writeJarProject, writeMultiModuleProject, writeSettings } from '../helpers/maven.js';
import { fetchPackageView } from '@registry-core/testing';
import { createUserAndToken, eventually, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const sha1 = (bytes: Buffer | string) => createHash('sha1').update(bytes).digest('hex');
const text = async (url: string) => {
  const response = await fetch(url);
  return { status: response.status, body: await response.text(), headers: response.headers };
};

/** A file the plain server announces a wrong `.sha1` for (nothing in the builds needs it). */
const CORRUPT = '/oro/oro/2.0.8/oro-2.0.8.jar';
/** Metadata the plain server answers with an HTML error page and a 200. */
const ERROR_PAGE = '/com/example/flaky/maven-metadata.xml';
const GREETING = { groupId: 'com.example.up', artifactId: 'greeting', version: '1.0' };

describe('Maven with mvn', () => {
  let central: Awaited<ReturnType<typeof serveMavenFolder>>;
  let upstream: RunningRegistry;
  let node: RunningRegistry;
  let token: string;
  let settings: string;
  const work = tempDir('mvn-work');
  const deployRepo = tempDir('m2-deploy');

  beforeAll(async () => {
    central = await serveMavenFolder(LOCAL_M2, { corrupt: [CORRUPT], bodies: { [ERROR_PAGE]: '<html><body>Service temporarily unavailable</body></html>' } });
    upstream = await startRegistry(`repositories:\n  up-local: { format: maven, type: hosted }\n`);
    const seedToken = await createUserAndToken(upstream.configFile, 'seed');
    const seedDir = path.join(work, 'greeting');
    writeJarProject(seedDir, GREETING, { distribution: distributionManagement(`${upstream.url}/up-local/`, `${upstream.url}/up-local/`) });
    // The seed resolves its plugins straight from the plain server.
    const seeded = await mvn(seedDir, writeSettings(central.url, { user: 'seed', password: seedToken }), tempDir('m2-seed'), ['deploy']);
    expect(seeded.code, seeded.output).toBe(0);
    node = await startRegistry(`repositories:
  maven-releases: { format: maven, type: hosted, versionPolicy: release }
  maven-snapshots: { format: maven, type: hosted, versionPolicy: snapshot }
  up-proxy: { format: maven, type: proxy, upstream: "${upstream.url}/up-local/", cache: { metadataTtl: 1 } }
  central-proxy: { format: maven, type: proxy, upstream: "${central.url}", versionPolicy: release }
  maven: { format: maven, type: group, members: [maven-releases, maven-snapshots, up-proxy, central-proxy] }
`);
    token = await createUserAndToken(node.configFile, 'dev');
    settings = writeSettings(`${node.url}/maven/`, { user: 'dev', password: token });
  }, 240_000);

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
    await central?.close();
  });

  const project = (version: string) => {
    const dir = path.join(work, `demo-${version}`);
    writeMultiModuleProject(dir, 'com.example.demo', version, {
      deps: [GREETING],
      coreUses: { pkg: 'com.example.up', className: 'Greeting' },
      distribution: distributionManagement(`${node.url}/maven-releases/`, `${node.url}/maven-snapshots/`),
    });
    return dir;
  };

  it('deploys a multi-module release, its plugins and dependencies resolved through the group', async () => {
    const dir = project('1.0.0');
    const deployed = await mvn(dir, settings, deployRepo, ['deploy']);
    expect(deployed.code, deployed.output).toBe(0);
    expect(deployed.output).toContain('BUILD SUCCESS');
    for (const module of ['core', 'app']) {
      const jar = readFileSync(path.join(dir, module, 'target', `${module}-1.0.0.jar`));
      const served = await fetch(`${node.url}/maven-releases/com/example/demo/${module}/1.0.0/${module}-1.0.0.jar`);
      expect(served.status).toBe(200);
      expect(sha1(Buffer.from(await served.arrayBuffer()))).toBe(sha1(jar));
      // Checksums for every stored file, whichever the client uploaded.
      for (const [algorithm, length] of [['md5', 32], ['sha1', 40], ['sha256', 64], ['sha512', 128]] as const) {
        const sum = await text(`${node.url}/maven-releases/com/example/demo/${module}/1.0.0/${module}-1.0.0.jar.${algorithm}`);
        expect(sum.body).toBe(createHash(algorithm).update(jar).digest('hex'));
        expect(sum.body).toHaveLength(length);
      }
    }
    const parentPom = await text(`${node.url}/maven-releases/com/example/demo/parent/1.0.0/parent-1.0.0.pom`);
    expect(parentPom.body).toContain('<packaging>pom</packaging>');
    // Metadata rebuilt by the repository; its checksum computed from the bytes it serves.
    const metadata = await text(`${node.url}/maven-releases/com/example/demo/core/maven-metadata.xml`);
    expect(metadata.body).toMatch(/<release>1\.0\.0<\/release>[\s\S]*<version>1\.0\.0<\/version>[\s\S]*<lastUpdated>\d{14}<\/lastUpdated>/);
    expect((await text(`${node.url}/maven-releases/com/example/demo/core/maven-metadata.xml.sha1`)).body).toBe(sha1(metadata.body));
    // The build plugins came through the proxy of the plain server, verified against its .sha1.
    expect(central.requests).toContain('/org/apache/maven/plugins/maven-compiler-plugin/3.13.0/maven-compiler-plugin-3.13.0.jar.sha1');
    expect((await fetch(`${node.url}/central-proxy/org/apache/maven/plugins/maven-compiler-plugin/3.13.0/maven-compiler-plugin-3.13.0.jar`)).headers.get('x-cache')).toBe('HIT');
    // People can browse.
    const listing = await text(`${node.url}/maven/com/example/demo/`);
    expect(listing.headers.get('content-type')).toMatch(/text\/html/);
    expect(listing.body).toContain('<a href="core/">core/</a>');
    expect(listing.body).toContain('<a href="parent/">parent/</a>');
    // The web interface's view of what mvn deployed (the browse API, through the group).
    const view = await fetchPackageView(node.url, 'maven', 'com.example.demo:app');
    expect(view.heldBy).toBe('maven-releases');
    expect(view.version).toBe('1.0.0');
    expect(view.facts['parent']).toBe('com.example.demo:parent:1.0.0');
    expect(view.dependencies).toEqual([{ name: 'com.example.demo:core', range: '${project.version}', kind: 'compile' }]);
    const appJar = readFileSync(path.join(dir, 'app', 'target', 'app-1.0.0.jar'));
    expect(view.files.map((f) => f.name)).toEqual(['app-1.0.0.jar', 'app-1.0.0.pom']);
    expect(view.files[0]!.digests['sha1']).toBe(sha1(appJar));
    expect(view.files[0]!.size).toBe(appJar.length);
    // The proxy's view of a plugin it cached for mvn (a proxy keeps no index: its stored files
    // are mapped to artifact and version).
    const cached = await fetchPackageView(node.url, 'central-proxy', 'org.apache.maven.plugins:maven-compiler-plugin');
    expect(cached.version).toBe('3.13.0');
    expect(cached.versions.map((v) => v.version)).toContain('3.13.0');
    expect(cached.files.map((f) => f.name)).toContain('maven-compiler-plugin-3.13.0.jar');
  });

  it('deploys SNAPSHOT builds with timestamps and keeps the snapshot metadata right', async () => {
    const dir = project('1.1.0-SNAPSHOT');
    for (let build = 1; build <= 2; build++) {
      const deployed = await mvn(dir, settings, deployRepo, ['deploy']);
      expect(deployed.code, deployed.output).toBe(0);
    }
    const snapshot = await text(`${node.url}/maven-snapshots/com/example/demo/core/1.1.0-SNAPSHOT/maven-metadata.xml`);
    expect(snapshot.status).toBe(200);
    const value = /<value>(1\.1\.0-\d{8}\.\d{6}-2)<\/value>/.exec(snapshot.body)?.[1];
    expect(value, snapshot.body).toBeDefined();
    expect(snapshot.body).toContain('<buildNumber>2</buildNumber>');
    expect(snapshot.body).toMatch(/<extension>jar<\/extension>\s*<value>1\.1\.0-\d{8}\.\d{6}-2<\/value>/);
    expect(snapshot.body).toMatch(/<extension>pom<\/extension>\s*<value>1\.1\.0-\d{8}\.\d{6}-2<\/value>/);
    expect(snapshot.body).not.toMatch(/-1<\/value>/);
    // Both builds are kept, and served.
    const folder = await text(`${node.url}/maven-snapshots/com/example/demo/core/1.1.0-SNAPSHOT/`);
    expect(folder.body.match(/core-1\.1\.0-\d{8}\.\d{6}-\d\.jar"/g)).toHaveLength(2);
    expect(folder.body).toContain('maven-metadata.xml');
    const jar = readFileSync(path.join(dir, 'core', 'target', 'core-1.1.0-SNAPSHOT.jar'));
    expect(sha1(Buffer.from(await (await fetch(`${node.url}/maven-snapshots/com/example/demo/core/1.1.0-SNAPSHOT/core-${value}.jar`)).arrayBuffer()))).toBe(sha1(jar));
    // The group merges the members' artifact metadata.
    const merged = await text(`${node.url}/maven/com/example/demo/core/maven-metadata.xml`);
    expect(merged.body).toMatch(/<latest>1\.1\.0-SNAPSHOT<\/latest>\s*<release>1\.0\.0<\/release>/);
    expect(merged.body).toMatch(/<version>1\.0\.0<\/version>\s*<version>1\.1\.0-SNAPSHOT<\/version>/);
    expect((await text(`${node.url}/maven/com/example/demo/core/maven-metadata.xml.sha1`)).body).toBe(sha1(merged.body));
  });

  it('takes a second deploy of the same release (a deploy retried after a crash), changing nothing', async () => {
    const before = await text(`${node.url}/maven-releases/com/example/demo/core/1.0.0/core-1.0.0.jar.sha1`);
    const dir = path.join(work, 'demo-1.0.0');
    // The same bytes again: a release's files are immutable, and these are the same files.
    // (Other bytes are refused with 409: maven-bad-input.test.ts.)
    const again = await mvn(dir, settings, deployRepo, ['deploy']);
    expect(again.code, again.output).toBe(0);
    expect((await text(`${node.url}/maven-releases/com/example/demo/core/1.0.0/core-1.0.0.jar.sha1`)).body).toBe(before.body);
  });

  const consumer = () => {
    const dir = path.join(work, 'consumer');
    writeJarProject(
      dir,
      { groupId: 'com.example.consumer', artifactId: 'consumer', version: '1.0' },
      {
        deps: [
          { groupId: 'com.example.demo', artifactId: 'app', version: '1.0.0' },
          { groupId: 'com.example.demo', artifactId: 'core', version: '1.1.0-SNAPSHOT' },
        ],
        uses: { pkg: 'com.example.demo.app', className: 'App' },
      },
    );
    return dir;
  };

  const resolvedInto = (local: string) => {
    const core = path.join(local, 'com', 'example', 'demo', 'core', '1.1.0-SNAPSHOT');
    return {
      snapshotJars: existsSync(core) ? readdirSync(core).filter((f) => /^core-1\.1\.0-\d{8}\.\d{6}-\d+\.jar$/.test(f)) : [],
      app: existsSync(path.join(local, 'com', 'example', 'demo', 'app', '1.0.0', 'app-1.0.0.jar')),
      greeting: existsSync(path.join(local, 'com', 'example', 'up', 'greeting', '1.0', 'greeting-1.0.jar')),
      compiler: existsSync(path.join(local, 'org', 'apache', 'maven', 'plugins', 'maven-compiler-plugin', '3.13.0', 'maven-compiler-plugin-3.13.0.jar')),
    };
  };

  it('resolves a second project and its dependencies through the group into an empty local repository', async () => {
    const local = tempDir('m2-consumer');
    const built = await mvn(consumer(), settings, local, ['package']);
    expect(built.code, built.output).toBe(0);
    expect(built.output).toContain('BUILD SUCCESS');
    const found = resolvedInto(local);
    // The newest SNAPSHOT build, the release from the hosted repository, the upstream's library, the plugins.
    expect(found.snapshotJars).toHaveLength(1);
    expect(found.snapshotJars[0]).toMatch(/-2\.jar$/);
    expect(found).toMatchObject({ app: true, greeting: true, compiler: true });
    const greeting = readFileSync(path.join(local, 'com', 'example', 'up', 'greeting', '1.0', 'greeting-1.0.jar'));
    expect(sha1(greeting)).toBe(sha1(readFileSync(path.join(work, 'greeting', 'target', 'greeting-1.0.jar'))));
  });

  it('verifies proxied artifacts against the upstream checksum and remembers what the upstream lacks', async () => {
    const corrupt = await text(`${node.url}/central-proxy${CORRUPT}`);
    expect(corrupt.status).toBe(502);
    expect((await text(`${node.url}/central-proxy${CORRUPT}`)).status).toBe(502);
    expect((await text(`${node.url}/central-proxy/oro/oro/2.0.8/`)).body).not.toContain('oro-2.0.8.jar');
    const good = await fetch(`${node.url}/central-proxy/oro/oro/2.0.8/oro-2.0.8.pom`);
    expect(good.status).toBe(200);
    expect(sha1(Buffer.from(await good.arrayBuffer()))).toBe(sha1(readFileSync(path.join(LOCAL_M2, 'oro', 'oro', '2.0.8', 'oro-2.0.8.pom'))));
    // A path the upstream does not have is asked once, then answered from the negative cache.
    const missing = '/com/example/absent/9.9/absent-9.9.pom';
    expect((await fetch(`${node.url}/central-proxy${missing}`)).status).toBe(404);
    expect((await fetch(`${node.url}/central-proxy${missing}`)).status).toBe(404);
    expect(central.requests.filter((p) => p === missing)).toHaveLength(1);
    // An error page answered with 200 is not cached as metadata.
    expect((await fetch(`${node.url}/central-proxy${ERROR_PAGE}`)).status).toBe(502);
    expect((await fetch(`${node.url}/central-proxy${ERROR_PAGE}`)).status).toBe(502);
    expect((await fetch(`${node.url}/central-proxy${ERROR_PAGE}.sha1`)).status).toBe(502);
    expect(central.requests.filter((p) => p === ERROR_PAGE)).toHaveLength(3);
    // A release proxy serves no SNAPSHOT.
    expect((await fetch(`${node.url}/central-proxy/com/example/x/1.0-SNAPSHOT/x-1.0-SNAPSHOT.pom`)).status).toBe(404);
  });

  it('revalidates proxied metadata after its TTL', async () => {
    const metadataUrl = `${node.url}/up-proxy/com/example/up/greeting/maven-metadata.xml`;
    const cached = await text(metadataUrl);
    expect(cached.body).toContain('<version>1.0</version>');
    expect(cached.body).not.toContain('<version>1.1</version>');
    // A new version upstream (deployed there by hand, as a client would PUT it).
    const seed = `Basic ${Buffer.from(`seed:${await createUserAndToken(upstream.configFile, 'seed')}`).toString('base64')}`;
    const pom = '<project><modelVersion>4.0.0</modelVersion><groupId>com.example.up</groupId><artifactId>greeting</artifactId><version>1.1</version></project>';
    const deployed = await fetch(`${upstream.url}/up-local/com/example/up/greeting/1.1/greeting-1.1.pom`, { method: 'PUT', headers: { authorization: seed }, body: pom });
    expect(deployed.status).toBe(201);
    const fresh = await eventually(
      () => text(metadataUrl),
      (answer) => answer.body.includes('<version>1.1</version>'),
      { attempts: 40, intervalMs: 100 },
    );
    expect(fresh.body).toMatch(/<release>1\.1<\/release>/);
  });

  it('still resolves with both upstreams stopped', async () => {
    await upstream.stop();
    await central.close();
    const local = tempDir('m2-offline');
    const built = await mvn(consumer(), settings, local, ['package']);
    expect(built.code, built.output).toBe(0);
    expect(resolvedInto(local)).toMatchObject({ app: true, greeting: true, compiler: true });
    // Release artifacts never expire; expired metadata is served stale.
    expect((await fetch(`${node.url}/up-proxy/com/example/up/greeting/1.0/greeting-1.0.jar`)).headers.get('x-cache')).toBe('HIT');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const stale = await fetch(`${node.url}/up-proxy/com/example/up/greeting/maven-metadata.xml`);
    expect(stale.status).toBe(200);
    expect(stale.headers.get('x-cache')).toBe('STALE');
  });
});
