import type { FormatRequestContext, GroupPlan } from '@registry-core/api';
import { listingDocument, metadataDocument } from './documents.js';
import { drainBody, metadataPackage, notAnArtifact, packageOf } from './hosted.js';
import { parseMavenPath, type MavenPath } from './paths.js';

/** The request's path, classified; a path that is refused drains the upload first. */
function targetOf(ctx: FormatRequestContext): MavenPath {
  try {
    return parseMavenPath(ctx.path);
  } catch (error) {
    drainBody(ctx);
    throw error;
  }
}

/**
 * How a group answers a `GET` (which members the kernel asks is its own decision, by the
 * package name given here, `groupId:artifactId` as hosted repositories index it):
 *
 * - artifact files and their checksums: from the name's owners (one per version space, asked
 *   in order), else from the first proxy that has it;
 * - artifact and SNAPSHOT version metadata: the owners' documents merged (a release and a
 *   snapshot repository), else the proxies'. A metadata folder of several segments may also
 *   be a groupId's plugin prefixes; a hosted repository holding those indexes the folder's
 *   name (see deployMetadata), so it owns them through the group;
 * - plugin prefixes of a one-segment groupId, and folder listings: every member's, merged;
 * - anything else (`archetype-catalog.xml`, `.meta/prefixes.txt`): only upstreams have it,
 *   asked in order under the path as a name no hosted repository indexes.
 */
export function readPlan(ctx: FormatRequestContext): GroupPlan {
  const target = targetOf(ctx);
  switch (target.kind) {
    case 'directory':
      return { serve: 'members', merge: listingDocument };
    case 'metadata': {
      if (target.directory.length < 2) return { serve: 'members', merge: metadataDocument };
      const name = metadataPackage(target.directory);
      ctx.authorize('read', name);
      return { serve: 'package', package: name, merge: metadataDocument };
    }
    case 'artifact':
      ctx.authorize('read', packageOf(target));
      return { serve: 'package', package: packageOf(target) };
    case 'other':
      return { serve: 'package', package: target.path };
  }
}

/**
 * A deploy through a group goes to the owner of its `groupId:artifactId` (for a new name, the
 * first hosted member that takes it: a release repository refuses a SNAPSHOT by its version
 * policy, and the kernel passes the deploy on).
 */
export function deployPlan(ctx: FormatRequestContext): GroupPlan {
  const target = targetOf(ctx);
  if (target.kind === 'artifact') return { serve: 'package', package: packageOf(target) };
  if (target.kind === 'metadata') return { serve: 'package', package: metadataPackage(target.directory) };
  drainBody(ctx);
  throw notAnArtifact(target.path);
}
