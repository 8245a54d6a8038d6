import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { homedir } from 'node:os';
import path from 'node:path';
import { tempDir } from './registry-process.js';

/** Debian's Maven (3.8 here), with the JDK it depends on. */
export const MVN = '/usr/bin/mvn';
/** The machine's local Maven repository: build plugins and their dependencies, no checksum files. */
export const LOCAL_M2 = path.join(homedir(), '.m2', 'repository');

/**
 * Plugin versions pinned in every test POM: Maven 3.8's defaults need jars the local
 * repository lacks.
 */
export const PLUGINS = {
  'maven-resources-plugin': '3.3.1',
  'maven-compiler-plugin': '3.13.0',
  'maven-surefire-plugin': '3.2.5',
  'maven-jar-plugin': '3.4.1',
  'maven-install-plugin': '3.1.2',
  'maven-deploy-plugin': '3.1.2',
} as const;

export interface RunResult {
  readonly code: number | null;
  readonly output: string;
}

/** Run mvn in batch mode without transfer progress, with the test's settings file. */
export function mvn(cwd: string, settings: string, localRepository: string, args: readonly string[]): Promise<RunResult> {
  return runJavaTool(MVN, ['-B', '-ntp', '-s', settings, `-Dmaven.repo.local=${localRepository}`, ...args], cwd);
}

/**
 * JVM options for the short builds of the tests: the client JIT tier only and the serial
 * collector. A build here runs for seconds, where the optimizing tier and a parallel collector
 * cost more CPU than they save; measured on a 2-core machine, an offline `mvn package` of a
 * one-class project took 10 to 12 s instead of 17 to 18 s. The tools behave the same.
 */
const JAVA_TOOL_JVM_OPTIONS = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC';

/**
 * Run a Java build tool (mvn, ant) in `cwd` with no user config (the user's MAVEN_OPTS,
 * ~/.mavenrc, ~/.ant and ~/.ivy2 stay out of it; only JAVA_TOOL_JVM_OPTIONS is set): its
 * exit code and output.
 */
export function runJavaTool(bin: string, args: readonly string[], cwd: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, {
      cwd,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: tempDir('java-tool-home'),
        JAVA_HOME: process.env['JAVA_HOME'] ?? '',
        MAVEN_OPTS: JAVA_TOOL_JVM_OPTIONS,
        ANT_OPTS: JAVA_TOOL_JVM_OPTIONS,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * A settings.xml: every repository mirrored to `mirrorUrl`; credentials for server id
 * `registry`. The profile turns SNAPSHOTs on for `central`, the repository the mirror stands
 * in for (Maven's own definition of it resolves releases only), as the README says.
 */
export function writeSettings(mirrorUrl: string, credentials?: { user: string; password: string }): string {
  const file = path.join(tempDir('mvn-settings'), 'settings.xml');
  const server = credentials ? `<servers><server><id>registry</id><username>${credentials.user}</username><password>${credentials.password}</password></server></servers>` : '';
  const central = '<id>central</id><url>http://central</url><releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots>';
  writeFileSync(
    file,
    `<settings>
  <mirrors><mirror><id>registry</id><mirrorOf>*</mirrorOf><url>${mirrorUrl}</url></mirror></mirrors>
  ${server}
  <profiles><profile><id>registry</id>
    <repositories><repository>${central}</repository></repositories>
    <pluginRepositories><pluginRepository>${central}</pluginRepository></pluginRepositories>
  </profile></profiles>
  <activeProfiles><activeProfile>registry</activeProfile></activeProfiles>
</settings>
`,
  );
  return file;
}

/** `<build><plugins>` with the pinned versions. */
const pinnedPlugins = () =>
  `<build><plugins>${Object.entries(PLUGINS)
    .map(([artifactId, version]) => `<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></plugin>`)
    .join('')}</plugins></build>`;

export interface Dependency {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
}

const dependencies = (deps: readonly Dependency[]) =>
  deps.length === 0 ? '' : `<dependencies>${deps.map((d) => `<dependency><groupId>${d.groupId}</groupId><artifactId>${d.artifactId}</artifactId><version>${d.version}</version></dependency>`).join('')}</dependencies>`;

/** One Java class `<package>.<className>` with a method returning `text`, calling `uses` if given. */
function javaSource(dir: string, pkg: string, className: string, text: string, uses?: { pkg: string; className: string }): void {
  const folder = path.join(dir, 'src', 'main', 'java', ...pkg.split('.'));
  mkdirSync(folder, { recursive: true });
  const call = uses ? ` + " / " + ${uses.pkg}.${uses.className}.text()` : '';
  writeFileSync(path.join(folder, `${className}.java`), `package ${pkg};\n\npublic final class ${className} {\n  public static String text() { return "${text}"${call}; }\n}\n`);
}

/**
 * A single-module jar project: one class `<groupId>.<Name>` (Name from the artifactId),
 * optionally calling a class of a dependency.
 */
export function writeJarProject(dir: string, coordinates: Dependency, options: { deps?: readonly Dependency[]; uses?: { pkg: string; className: string }; distribution?: string } = {}): { pkg: string; className: string } {
  mkdirSync(dir, { recursive: true });
  const className = coordinates.artifactId.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
  writeFileSync(
    path.join(dir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>${coordinates.groupId}</groupId><artifactId>${coordinates.artifactId}</artifactId><version>${coordinates.version}</version>
  <properties><maven.compiler.release>17</maven.compiler.release><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  ${dependencies(options.deps ?? [])}
  ${options.distribution ?? ''}
  ${pinnedPlugins()}
</project>
`,
  );
  javaSource(dir, coordinates.groupId, className, `${coordinates.artifactId} ${coordinates.version}`, options.uses);
  return { pkg: coordinates.groupId, className };
}

/**
 * A multi-module project: a parent POM (packaging pom) with modules `core` and `app`,
 * `app` depending on `core`, `core` on `deps`; `distribution` goes in the parent.
 */
export function writeMultiModuleProject(dir: string, groupId: string, version: string, options: { deps?: readonly Dependency[]; coreUses?: { pkg: string; className: string }; distribution?: string } = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>${groupId}</groupId><artifactId>parent</artifactId><version>${version}</version><packaging>pom</packaging>
  <modules><module>core</module><module>app</module></modules>
  <properties><maven.compiler.release>17</maven.compiler.release><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  ${options.distribution ?? ''}
  ${pinnedPlugins()}
</project>
`,
  );
  const module = (name: string, deps: readonly Dependency[], uses?: { pkg: string; className: string }) => {
    const moduleDir = path.join(dir, name);
    mkdirSync(moduleDir, { recursive: true });
    writeFileSync(
      path.join(moduleDir, 'pom.xml'),
      `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>${groupId}</groupId><artifactId>parent</artifactId><version>${version}</version></parent>
  <artifactId>${name}</artifactId>
  ${dependencies(deps)}
</project>
`,
    );
    javaSource(moduleDir, `${groupId}.${name}`, name === 'core' ? 'Core' : 'App', `${name} ${version}`, uses);
  };
  module('core', options.deps ?? [], options.coreUses);
  module('app', [{ groupId, artifactId: 'core', version: '${project.version}' }], { pkg: `${groupId}.core`, className: 'Core' });
}

/** `<distributionManagement>` to `releases` and `snapshots` under server id `registry`. */
export function distributionManagement(releases: string, snapshots: string): string {
  return `<distributionManagement><repository><id>registry</id><url>${releases}</url></repository><snapshotRepository><id>registry</id><url>${snapshots}</url></snapshotRepository></distributionManagement>`;
}

/**
 * A plain Maven 2 layout server over a folder (the machine's local repository), as a real
 * remote repository would be: files with `.sha1`/`.md5` sidecars computed from the bytes,
 * 404 for anything else. `corrupt` paths get a wrong `.sha1`; `bodies` are answered as they are, with 200. Records every path asked.
 */
export async function serveMavenFolder(root: string, options: { corrupt?: readonly string[]; bodies?: Readonly<Record<string, string>> } = {}): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(urlPath);
    if ((req.method !== 'GET' && req.method !== 'HEAD') || urlPath.includes('..')) {
      res.writeHead(405).end();
      return;
    }
    const body = options.bodies?.[urlPath];
    if (body !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html' }).end(body);
      return;
    }
    const checksum = /\.(sha1|md5)$/.exec(urlPath);
    const file = path.join(root, checksum ? urlPath.slice(0, -checksum[0].length) : urlPath);
    let size: number;
    try {
      const stat = statSync(file);
      if (!stat.isFile()) throw new Error('not a file');
      size = stat.size;
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    if (checksum) {
      const hash = createHash(checksum[1]!);
      createReadStream(file)
        .on('data', (d) => hash.update(d))
        .on('end', () => {
          const digest = options.corrupt?.includes(urlPath.slice(0, -checksum[0].length)) ? '0'.repeat(checksum[1] === 'sha1' ? 40 : 32) : hash.digest('hex');
          res.writeHead(200, { 'content-type': 'text/plain' }).end(req.method === 'HEAD' ? undefined : digest);
        });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
