import { BadRequestError, RegistryError, type RepositoryInfo } from '@registry-core/api';

/** Which versions a repository takes (hosted) or serves (proxy). */
export type VersionPolicy = 'release' | 'snapshot' | 'mixed';

/** The Maven keys of a repository block. */
export interface MavenRepositoryConfig {
  readonly versionPolicy: VersionPolicy;
  /** Hosted: may a release file be deployed again (replaced)? SNAPSHOT files always may. */
  readonly allowRedeploy: boolean;
}

export function mavenConfig(config: Readonly<Record<string, unknown>>): MavenRepositoryConfig {
  const policy = config['versionPolicy'];
  return {
    versionPolicy: policy === 'release' || policy === 'snapshot' ? policy : 'mixed',
    allowRedeploy: config['allowRedeploy'] === true,
  };
}

/** Refuse unknown values of the Maven keys at start, naming the key. */
export function validateRepository(repo: RepositoryInfo): void {
  const policy = repo.config['versionPolicy'];
  if (policy !== undefined && policy !== 'release' && policy !== 'snapshot' && policy !== 'mixed') {
    throw new BadRequestError('versionPolicy: must be release, snapshot or mixed');
  }
  const redeploy = repo.config['allowRedeploy'];
  if (redeploy !== undefined && typeof redeploy !== 'boolean') throw new BadRequestError('allowRedeploy: must be true or false');
  if (redeploy !== undefined && repo.type !== 'hosted') throw new BadRequestError('allowRedeploy: only hosted repositories take deploys');
}

/** Code of a refusal by version policy: a group tries its next hosted member. */
export const VERSION_POLICY_CODE = 'VERSION_POLICY';

/** Whether `snapshot`-ness fits the policy; the refusal a deploy gets when it does not. */
export function policyAllows(policy: VersionPolicy, snapshot: boolean): boolean {
  return policy === 'mixed' || (policy === 'snapshot') === snapshot;
}

export function policyRefusal(repository: string, policy: VersionPolicy, version: string): RegistryError {
  const takes = policy === 'release' ? 'release versions only' : 'SNAPSHOT versions only';
  return new RegistryError(VERSION_POLICY_CODE, `${repository} takes ${takes} (versionPolicy: ${policy}); ${version} is not one`, 400);
}
