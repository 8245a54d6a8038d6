import { RepositoryPolicyError, type RepositoryInfo } from '@registry-core/api';

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

/**
 * A repository's version space: release and snapshot repositories hold a name's versions
 * side by side, so through a group each owns a name on its own and their metadata merges.
 */
export function versionSpace(repo: RepositoryInfo): VersionPolicy {
  return mavenConfig(repo.config).versionPolicy;
}

/** Whether `snapshot`-ness fits the policy; the refusal a deploy gets when it does not. */
export function policyAllows(policy: VersionPolicy, snapshot: boolean): boolean {
  return policy === 'mixed' || (policy === 'snapshot') === snapshot;
}

/** A policy refusal: a group passes the deploy on to its next hosted member. */
export function policyRefusal(repository: string, policy: VersionPolicy, version: string): RepositoryPolicyError {
  const takes = policy === 'release' ? 'release versions only' : 'SNAPSHOT versions only';
  return new RepositoryPolicyError(`${repository} takes ${takes} (versionPolicy: ${policy}); ${version} is not one`);
}
