import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runJavaTool, type RunResult } from './maven.js';

/** Debian's Ant (with its JDK) and Ivy (`/usr/share/java/ivy.jar`, put on Ant's path with `-lib`). */
export const ANT = '/usr/bin/ant';
export const IVY_JAR = '/usr/share/java/ivy.jar';

/** Run `ant <targets>` in `dir` with Ivy on its path, no user configuration. */
export function ant(dir: string, targets: readonly string[]): Promise<RunResult> {
  return runJavaTool(ANT, ['-noinput', '-lib', IVY_JAR, ...targets], dir);
}

export interface IvyModule {
  readonly organisation: string;
  readonly module: string;
  readonly revision: string;
  /** `org#module;rev` dependencies. */
  readonly dependencies: readonly { readonly org: string; readonly name: string; readonly rev: string }[];
}

/**
 * An Ant project using Ivy as its documentation shows: `ivysettings.xml` resolving from
 * `resolveRoot` (a group: Ivy descriptors first, then POMs) and an `ibiblio` resolver
 * (`m2compatible`) for publishing
 * (`publishRoot`, a hosted repository) with the user's credentials; `ivy.xml` publishing a
 * jar. Targets: `resolve` (retrieve the dependencies into `lib/`), `publish` (jar and
 * `ivy:publish` with Ivy's defaults: no overwrite, the descriptor published too).
 */
export function writeIvyProject(dir: string, module: IvyModule, options: { resolveRoot: string; publishRoot: string; credentials: { user: string; password: string }; realm: string }): void {
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  const host = new URL(options.publishRoot).hostname;
  writeFileSync(
    path.join(dir, 'ivysettings.xml'),
    `<ivysettings>
  <settings defaultResolver="registry"/>
  <caches defaultCacheDir="\${basedir}/ivy-cache"/>
  <credentials host="${host}" realm="${options.realm}" username="${options.credentials.user}" passwd="${options.credentials.password}"/>
  <resolvers>
    <!-- Modules published by Ivy first by their Ivy descriptor (their dependencies as Ivy
         wrote them), any other by its POM. -->
    <chain name="registry" returnFirst="true">
      <url name="registry-ivy" m2compatible="true" descriptor="required">
        <ivy pattern="${options.resolveRoot}[organisation]/[module]/[revision]/ivy-[revision].xml"/>
        <artifact pattern="${options.resolveRoot}[organisation]/[module]/[revision]/[artifact]-[revision](-[classifier]).[ext]"/>
      </url>
      <ibiblio name="registry-maven" m2compatible="true" root="${options.resolveRoot}"/>
    </chain>
    <ibiblio name="hosted" m2compatible="true" root="${options.publishRoot}"/>
  </resolvers>
</ivysettings>
`,
  );
  writeFileSync(
    path.join(dir, 'ivy.xml'),
    `<ivy-module version="2.0">
  <info organisation="${module.organisation}" module="${module.module}" revision="${module.revision}"/>
  <publications><artifact name="${module.module}" type="jar" ext="jar"/></publications>
  <dependencies>
${module.dependencies.map((d) => `    <dependency org="${d.org}" name="${d.name}" rev="${d.rev}" conf="default->default"/>`).join('\n')}
  </dependencies>
</ivy-module>
`,
  );
  writeFileSync(path.join(dir, 'src', 'greeting.txt'), `hello from ${module.module} ${module.revision}\n`);
  writeFileSync(
    path.join(dir, 'build.xml'),
    `<project name="${module.module}" default="publish" xmlns:ivy="antlib:org.apache.ivy.ant">
  <target name="settings">
    <ivy:settings file="ivysettings.xml"/>
  </target>
  <target name="resolve" depends="settings">
    <ivy:retrieve pattern="lib/[artifact]-[revision].[ext]"/>
  </target>
  <target name="publish" depends="resolve">
    <mkdir dir="build"/>
    <jar destfile="build/${module.module}-${module.revision}.jar" basedir="src"/>
    <ivy:publish resolver="hosted" pubrevision="${module.revision}">
      <artifacts pattern="build/[artifact]-[revision].[ext]"/>
    </ivy:publish>
  </target>
</project>
`,
  );
}
