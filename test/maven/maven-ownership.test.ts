// Which member of a Maven group serves a name, driven by the real mvn (3.8): a name
// belongs to the hosted member that holds it (or that the group's `routing` claims it for);
// a hostile upstream behind a proxy member offering the same groupId:artifactId (other
// bytes, a higher version) and another user's deploy of it to a second hosted member are
// never served through the group, and a claimed name is never asked of the upstream. Release
// and SNAPSHOT deploys through a group land in the release and snapshot repositories, whose
// metadata the group merges.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_M2, distributionManagement, mvn, serveMavenFolder, writeJarProject, writeSettings } from '../helpers/maven.js';
import { createUserAndToken, rawRequest, startRegistry, tempDir, type RunningRegistry } from '../helpers/registry-process.js';

const sha1 = (bytes: Buffer | string) => createHash('sha1').update(bytes).digest('hex');
const get = async (url: string) => {
  const response = await fetch(url);
  return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()), member: response.headers.get('x-registry-member') };
};

const LIB = { groupId: 'org.shared', artifactId: 'lib', version: '1.0' };
const WIDGET = { groupId: 'com.acme.tools', artifactId: 'widget', version: '1.0' };
/** Only the upstream has it, and no member is claimed for it. */
const FREE = { groupId: 'net.free', artifactId: 'thing' };
const pom = (c: { groupId: string; artifactId: string; version: string }) =>
  `<project><modelVersion>4.0.0</modelVersion><groupId>${c.groupId}</groupId><artifactId>${c.artifactId}</artifactId><version>${c.version}</version></project>\n`;

/** A Maven 2 layout folder offering `versions` of an artifact with hostile bytes, and its metadata. */
function offer(root: string, c: { groupId: string; artifactId: string }, versions: readonly string[]): void {
  const folder = path.join(root, ...c.groupId.split('.'), c.artifactId);
  for (const version of versions) {
    mkdirSync(path.join(folder, version), { recursive: true });
    writeFileSync(path.join(folder, version, `${c.artifactId}-${version}.jar`), `hostile ${c.artifactId} ${version}`);
    writeFileSync(path.join(folder, version, `${c.artifactId}-${version}.pom`), pom({ ...c, version }));
  }
  const list = versions.map((v) => `<version>${v}</version>`).join('');
  writeFileSync(
    path.join(folder, 'maven-metadata.xml'),
    `<metadata><groupId>${c.groupId}</groupId><artifactId>${c.artifactId}</artifactId><versioning><latest>${versions.at(-1)}</latest><release>${versions.at(-1)}</release><versions>${list}</versions><lastUpdated>20990101000000</lastUpdated></versioning></metadata>\n`,
  );
}

describe('Maven group ownership with mvn', () => {
  let central: Awaited<ReturnType<typeof serveMavenFolder>>;
  let hostile: Awaited<ReturnType<typeof serveMavenFolder>>;
  let node: RunningRegistry;
  let alice: string;
  let mallory: string;
  const work = tempDir('mvn-owners');
  const asked = (prefix: string) => hostile.requests.filter((p) => p.startsWith(prefix));

  beforeAll(async () => {
    central = await serveMavenFolder(LOCAL_M2);
    const hostileRoot = tempDir('hostile-m2');
    offer(hostileRoot, LIB, ['1.0', '6.6.6']);
    offer(hostileRoot, WIDGET, ['1.0', '6.6.6']);
    offer(hostileRoot, FREE, ['1.0']);
    hostile = await serveMavenFolder(hostileRoot);
    node = await startRegistry(`repositories:
  team-a: { format: maven, type: hosted }
  team-b: { format: maven, type: hosted }
  hostile-proxy: { format: maven, type: proxy, upstream: "${hostile.url}" }
  central-proxy: { format: maven, type: proxy, upstream: "${central.url}", versionPolicy: release }
  shared:
    format: maven
    type: group
    members: [team-a, team-b, hostile-proxy, central-proxy]
    # org.shared:lib is the hostile upstream's too: deploying it to a hosted member at all
    # needs a claim (else refused as shadowing); claimed for both, team-a (first) owns it.
    routing: { "com.acme.*": [team-a], "org.shared:*": [team-a, team-b] }
  releases: { format: maven, type: hosted, versionPolicy: release }
  snapshots: { format: maven, type: hosted, versionPolicy: snapshot }
  maven: { format: maven, type: group, members: [releases, snapshots, central-proxy] }
`);
    alice = await createUserAndToken(node.configFile, 'alice');
    mallory = await createUserAndToken(node.configFile, 'mallory');
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await hostile?.close();
    await central?.close();
  });

  const sharedSettings = (user: string, password: string) => writeSettings(`${node.url}/shared/`, { user, password });
  const aliceJar = () => readFileSync(path.join(work, 'alice', 'target', 'lib-1.0.jar'));

  it('deploys through the group to the first hosted member, which then owns the name', async () => {
    const dir = path.join(work, 'alice');
    writeJarProject(dir, LIB, { distribution: distributionManagement(`${node.url}/shared/`, `${node.url}/shared/`) });
    const deployed = await mvn(dir, sharedSettings('alice', alice), tempDir('m2-alice'), ['deploy']);
    expect(deployed.code, deployed.output).toBe(0);
    const stored = await get(`${node.url}/team-a/org/shared/lib/1.0/lib-1.0.jar`);
    expect(stored.status).toBe(200);
    expect(sha1(stored.bytes)).toBe(sha1(aliceJar()));
    expect((await get(`${node.url}/team-b/org/shared/lib/1.0/lib-1.0.jar`)).status).toBe(404);
  }, 180_000);

  it('serves an owned name from its owner alone: not the upstream\'s higher version, not another user\'s deploy to a second hosted member', async () => {
    // Mallory deploys the same coordinates, other bytes, to the second hosted member; and a 2.0.
    const dir = path.join(work, 'mallory');
    writeJarProject(dir, LIB, { distribution: distributionManagement(`${node.url}/team-b/`, `${node.url}/team-b/`) });
    mkdirSync(path.join(dir, 'src', 'main', 'resources'), { recursive: true });
    writeFileSync(path.join(dir, 'src', 'main', 'resources', 'mallory.txt'), 'not alice');
    const deployed = await mvn(dir, sharedSettings('mallory', mallory), tempDir('m2-mallory'), ['deploy']);
    expect(deployed.code, deployed.output).toBe(0);
    const auth = { authorization: `Basic ${Buffer.from(`mallory:${mallory}`).toString('base64')}` };
    for (const [file, body] of [['lib-2.0.pom', pom({ ...LIB, version: '2.0' })], ['lib-2.0.jar', 'mallory 2.0']] as const) {
      expect((await rawRequest(node.url, `/team-b/org/shared/lib/2.0/${file}`, { method: 'PUT', headers: auth, body })).status).toBe(201);
    }
    const malloryJar = readFileSync(path.join(dir, 'target', 'lib-1.0.jar'));
    expect(sha1(malloryJar)).not.toBe(sha1(aliceJar()));
    expect(sha1((await get(`${node.url}/team-b/org/shared/lib/1.0/lib-1.0.jar`)).bytes)).toBe(sha1(malloryJar));
    // The upstream offers 6.6.6 and its own 1.0; team-b holds 2.0 and its own 1.0.
    expect((await get(`${node.url}/hostile-proxy/org/shared/lib/maven-metadata.xml`)).bytes.toString()).toContain('<version>6.6.6</version>');
    const requestsBefore = asked('/org/shared/').length;

    const metadata = await get(`${node.url}/shared/org/shared/lib/maven-metadata.xml`);
    expect(metadata.status).toBe(200);
    expect(metadata.member).toBe('team-a');
    expect(metadata.bytes.toString()).toMatch(/<release>1\.0<\/release>[\s\S]*<versions>\s*<version>1\.0<\/version>\s*<\/versions>/);
    expect(metadata.bytes.toString()).not.toMatch(/6\.6\.6|2\.0/);
    const checksum = await get(`${node.url}/shared/org/shared/lib/maven-metadata.xml.sha1`);
    expect(checksum.bytes.toString()).toBe(sha1(metadata.bytes));
    expect(checksum.member).toBe('team-a');
    const jar = await get(`${node.url}/shared/org/shared/lib/1.0/lib-1.0.jar`);
    expect(jar.member).toBe('team-a');
    expect(sha1(jar.bytes)).toBe(sha1(aliceJar()));
    expect((await get(`${node.url}/shared/org/shared/lib/1.0/lib-1.0.jar.sha1`)).bytes.toString()).toBe(sha1(aliceJar()));
    for (const version of ['6.6.6', '2.0']) expect((await get(`${node.url}/shared/org/shared/lib/${version}/lib-${version}.jar`)).status).toBe(404);

    // mvn resolves a version range through the group: the owner's newest, the owner's bytes.
    const consumer = path.join(work, 'consumer');
    writeJarProject(consumer, { groupId: 'org.consumer', artifactId: 'app', version: '1.0' }, { deps: [{ ...LIB, version: '[1.0,)' }], uses: { pkg: 'org.shared', className: 'Lib' } });
    const local = tempDir('m2-consumer');
    const built = await mvn(consumer, sharedSettings('alice', alice), local, ['package']);
    expect(built.code, built.output).toBe(0);
    const libFolder = path.join(local, 'org', 'shared', 'lib');
    expect(sha1(readFileSync(path.join(libFolder, '1.0', 'lib-1.0.jar')))).toBe(sha1(aliceJar()));
    expect(existsSync(path.join(libFolder, '6.6.6'))).toBe(false);
    expect(existsSync(path.join(libFolder, '2.0'))).toBe(false);
    expect(readFileSync(path.join(libFolder, 'maven-metadata-registry.xml'), 'utf8')).not.toMatch(/6\.6\.6|2\.0/);
    // None of that asked the upstream about the owned name.
    expect(asked('/org/shared/').length).toBe(requestsBefore);
  }, 240_000);

  it('never asks the upstream for a name the group\'s routing claims, even before it is published', async () => {
    expect((await get(`${node.url}/hostile-proxy/com/acme/tools/widget/maven-metadata.xml`)).status).toBe(200);
    hostile.requests.length = 0;
    for (const file of ['maven-metadata.xml', 'maven-metadata.xml.sha1', '1.0/widget-1.0.jar', '1.0/widget-1.0.pom', '6.6.6/widget-6.6.6.jar']) {
      expect((await get(`${node.url}/shared/com/acme/tools/widget/${file}`)).status, file).toBe(404);
    }
    const consumer = path.join(work, 'widget-consumer');
    writeJarProject(consumer, { groupId: 'org.consumer', artifactId: 'widget-user', version: '1.0' }, { deps: [WIDGET] });
    const built = await mvn(consumer, sharedSettings('alice', alice), tempDir('m2-widget'), ['package']);
    expect(built.code).not.toBe(0);
    expect(built.output).toMatch(/com\.acme\.tools:widget:(jar|pom):1\.0/);
    expect(asked('/com/acme/')).toEqual([]);
    // The upstream is asked for names nobody owns or claims.
    const free = await get(`${node.url}/shared/net/free/thing/1.0/thing-1.0.jar`);
    expect(free.bytes.toString()).toBe('hostile thing 1.0');
    // (A proxied file's header names the proxies that were candidates, the one that answered first.)
    expect(free.member?.split(', ')[0]).toBe('hostile-proxy');
    expect(asked('/net/free/').length).toBeGreaterThan(0);
    // A deploy of a claimed name goes to the claiming member, whoever sends it.
    const auth = { authorization: `Basic ${Buffer.from(`mallory:${mallory}`).toString('base64')}` };
    expect((await rawRequest(node.url, '/shared/com/acme/tools/widget/1.0/widget-1.0.pom', { method: 'PUT', headers: auth, body: pom(WIDGET) })).status).toBe(201);
    expect((await get(`${node.url}/team-a/com/acme/tools/widget/1.0/widget-1.0.pom`)).status).toBe(200);
    const served = await get(`${node.url}/shared/com/acme/tools/widget/maven-metadata.xml`);
    expect(served.member).toBe('team-a');
    expect(served.bytes.toString()).not.toContain('6.6.6');
    expect(asked('/com/acme/')).toEqual([]);
  }, 180_000);

  it('sends release and SNAPSHOT deploys through a group to the release and snapshot repositories, and merges their metadata', async () => {
    const settings = writeSettings(`${node.url}/maven/`, { user: 'alice', password: alice });
    const coordinates = { groupId: 'com.example.spaces', artifactId: 'lib' };
    const jars: Record<string, Buffer> = {};
    for (const version of ['3.0', '3.1-SNAPSHOT']) {
      const dir = path.join(work, `spaces-${version}`);
      writeJarProject(dir, { ...coordinates, version }, { distribution: distributionManagement(`${node.url}/maven/`, `${node.url}/maven/`) });
      const deployed = await mvn(dir, settings, tempDir('m2-spaces'), ['deploy']);
      expect(deployed.code, deployed.output).toBe(0);
      jars[version] = readFileSync(path.join(dir, 'target', `lib-${version}.jar`));
    }
    const release = await get(`${node.url}/releases/com/example/spaces/lib/3.0/lib-3.0.jar`);
    expect(sha1(release.bytes)).toBe(sha1(jars['3.0']!));
    expect((await get(`${node.url}/snapshots/com/example/spaces/lib/3.0/lib-3.0.jar`)).status).toBe(404);
    const snapshotMetadata = await get(`${node.url}/snapshots/com/example/spaces/lib/3.1-SNAPSHOT/maven-metadata.xml`);
    const build = /<value>(3\.1-\d{8}\.\d{6}-1)<\/value>/.exec(snapshotMetadata.bytes.toString())?.[1];
    expect(build, snapshotMetadata.bytes.toString()).toBeDefined();
    expect(sha1((await get(`${node.url}/snapshots/com/example/spaces/lib/3.1-SNAPSHOT/lib-${build}.jar`)).bytes)).toBe(sha1(jars['3.1-SNAPSHOT']!));
    expect((await get(`${node.url}/releases/com/example/spaces/lib/3.1-SNAPSHOT/lib-${build}.jar`)).status).toBe(404);
    // Through the group: both owners' metadata merged; each file from the owner holding it.
    const merged = await get(`${node.url}/maven/com/example/spaces/lib/maven-metadata.xml`);
    expect(merged.member).toBe('releases, snapshots');
    expect(merged.bytes.toString()).toMatch(/<latest>3\.1-SNAPSHOT<\/latest>\s*<release>3\.0<\/release>/);
    expect(merged.bytes.toString()).toMatch(/<version>3\.0<\/version>\s*<version>3\.1-SNAPSHOT<\/version>/);
    const snapshotJar = await get(`${node.url}/maven/com/example/spaces/lib/3.1-SNAPSHOT/lib-${build}.jar`);
    expect(sha1(snapshotJar.bytes)).toBe(sha1(jars['3.1-SNAPSHOT']!));
    expect(snapshotJar.member).toBe('snapshots');
    const releaseJar = await get(`${node.url}/maven/com/example/spaces/lib/3.0/lib-3.0.jar`);
    expect(sha1(releaseJar.bytes)).toBe(sha1(jars['3.0']!));
    expect(releaseJar.member).toBe('releases');
  }, 240_000);
});
