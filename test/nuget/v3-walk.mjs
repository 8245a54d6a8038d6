#!/usr/bin/env node
// The NuGet v3 resource flow as NuGet's own client (dotnet restore, nuget.exe 3+) walks it,
// with every answer checked against the shapes NuGet's server API documentation gives. No
// dotnet SDK installs on the machines this project is tested on, so this stands in for it:
// the v3 side of registry-core is verified by this walk, not by a real v3 client.
//
// Run it against any NuGet v3 feed to compare servers (it only reads):
//   node test/nuget/v3-walk.mjs <service index URL> <package id> [version]
//
// The walk: 1. the service index (resources picked by @type, newest alias first, as the
// client does); 2. the flat container's version list; 3. the registration index, fetching
// pages that are not inlined, to the version's leaf and catalog entry; 4. the .nupkg and
// .nuspec from the flat container; 5. search and autocomplete.

/** Thrown when an answer is not what the documentation says it is. */
export class WalkError extends Error {}

function check(condition, message) {
  if (!condition) throw new WalkError(message);
}

/** GET `url` as the client does (Accept JSON, the API key never sent on reads); the parsed body, or the bytes. */
async function get(url, { json = true, headers = {} } = {}) {
  const response = await fetch(url, { headers: { 'user-agent': 'registry-core-v3-walk', ...(json ? { accept: 'application/json' } : {}), ...headers } });
  check(response.status === 200, `GET ${url}: ${response.status}`);
  return json ? response.json() : Buffer.from(await response.arrayBuffer());
}

/** The first resource of the first `@type` listed that the index has (NuGet's ServiceIndexResourceV3 order). */
function pick(index, types) {
  for (const type of types) {
    const found = index.resources.find((r) => r['@type'] === type);
    if (found) return found['@id'];
  }
  return undefined;
}

const NORMALIZED = /^\d+\.\d+\.\d+(\.\d+)?(-[0-9a-z-]+(\.[0-9a-z-]+)*)?$/;

/**
 * Walk `serviceIndexUrl` for `id` (and `version`, default the newest). `headers`: sent with every
 * request (source credentials). Resolves what was read, for a caller to compare further.
 */
export async function walk(serviceIndexUrl, id, version, { headers = {} } = {}) {
  const lid = id.toLowerCase();
  // 1. Service index.
  const index = await get(serviceIndexUrl, { headers });
  check(typeof index.version === 'string' && index.version.startsWith('3.'), 'service index: "version" is 3.x');
  check(Array.isArray(index.resources) && index.resources.every((r) => typeof r['@id'] === 'string' && typeof r['@type'] === 'string'), 'service index: resources have @id and @type');
  const flat = pick(index, ['PackageBaseAddress/3.0.0']);
  const registrations = pick(index, ['RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/3.4.0', 'RegistrationsBaseUrl/3.0.0-rc', 'RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl']);
  const search = pick(index, ['SearchQueryService/3.5.0', 'SearchQueryService/3.0.0-rc', 'SearchQueryService/3.0.0-beta', 'SearchQueryService']);
  const autocomplete = pick(index, ['SearchAutocompleteService/3.5.0', 'SearchAutocompleteService/3.0.0-rc', 'SearchAutocompleteService']);
  const publish = pick(index, ['PackagePublish/2.0.0']);
  check(flat && registrations && search && publish, 'service index: PackageBaseAddress, RegistrationsBaseUrl, SearchQueryService and PackagePublish are listed');
  const base = flat.endsWith('/') ? flat : `${flat}/`;
  const regBase = registrations.endsWith('/') ? registrations : `${registrations}/`;

  // 2. Flat container: lower-case, normalized versions, ascending.
  const listing = await get(`${base}${lid}/index.json`, { headers });
  check(Array.isArray(listing.versions) && listing.versions.length > 0, 'flat container: "versions" is a non-empty array');
  for (const v of listing.versions) check(NORMALIZED.test(v), `flat container: ${v} is normalized and lower-case`);
  const wanted = (version ?? listing.versions.at(-1)).toLowerCase();
  check(listing.versions.includes(wanted), `flat container: lists ${wanted}`);

  // 3. Registration: index, pages (fetched when not inlined), leaves.
  const registration = await get(`${regBase}${lid}/index.json`, { headers });
  check(Number.isInteger(registration.count) && registration.count === registration.items.length, 'registration: "count" is the number of pages');
  const leaves = [];
  let pagesFetched = 0;
  for (const page of registration.items) {
    check(typeof page['@id'] === 'string' && typeof page.lower === 'string' && typeof page.upper === 'string' && Number.isInteger(page.count), 'registration page: @id, lower, upper, count');
    let items = page.items;
    if (!items) {
      const fetched = await get(page['@id'], { headers });
      pagesFetched++;
      items = fetched.items;
    }
    check(Array.isArray(items) && items.length === page.count, `registration page ${page['@id']}: holds "count" leaves`);
    leaves.push(...items);
  }
  for (const leaf of leaves) {
    const entry = leaf.catalogEntry;
    check(typeof leaf['@id'] === 'string' && typeof leaf.packageContent === 'string', 'registration leaf: @id and packageContent');
    check(entry && typeof entry === 'object' && entry.id && entry.version, 'registration leaf: an inlined catalogEntry with id and version');
    check(entry.id.toLowerCase() === lid, `registration leaf: the id ${entry.id} is ${id}`);
    if (entry.dependencyGroups !== undefined) {
      check(Array.isArray(entry.dependencyGroups), 'catalog entry: dependencyGroups is an array');
      for (const group of entry.dependencyGroups) for (const d of group.dependencies ?? []) check(typeof d.id === 'string' && typeof d.range === 'string', 'dependency: id and range');
    }
  }
  const leaf = leaves.find((l) => l.catalogEntry.version.replace(/\+.*$/, '').toLowerCase() === wanted);
  check(leaf, `registration: a leaf for ${wanted}`);
  check(leaf.catalogEntry.listed === undefined || typeof leaf.catalogEntry.listed === 'boolean', 'catalog entry: listed is a boolean when given');

  // 4. Package and manifest from the flat container (the URL restore uses), and the leaf's packageContent.
  const nupkg = await get(`${base}${lid}/${wanted}/${lid}.${wanted}.nupkg`, { json: false, headers });
  check(nupkg.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1')), 'nupkg: a zip');
  const viaLeaf = await get(leaf.packageContent, { json: false, headers });
  check(viaLeaf.equals(nupkg), 'nupkg: packageContent serves the same bytes as the flat container');
  const nuspec = (await get(`${base}${lid}/${wanted}/${lid}.nuspec`, { json: false, headers })).toString('utf8');
  check(/<package[\s>]/.test(nuspec) && nuspec.toLowerCase().includes(`<id>${lid}</id>`), 'nuspec: a package manifest for the id');

  // 5. Search (the client's parameters) and autocomplete.
  const found = await get(`${search}?q=${encodeURIComponent(id)}&skip=0&take=20&prerelease=true&semVerLevel=2.0.0`, { headers });
  check(Number.isInteger(found.totalHits) && Array.isArray(found.data), 'search: totalHits and data');
  const hit = found.data.find((d) => d.id.toLowerCase() === lid);
  if (hit) check(typeof hit.version === 'string' && Array.isArray(hit.versions) && typeof hit.registration === 'string', 'search hit: version, versions, registration');
  let completions;
  if (autocomplete) {
    completions = await get(`${autocomplete}?id=${encodeURIComponent(lid)}&prerelease=true&semVerLevel=2.0.0`, { headers });
    check(Array.isArray(completions.data), 'autocomplete: data');
  }
  return { index, flat: base, publish, versions: listing.versions, registration, pagesFetched, leaves, leaf, nupkg, nuspec, search: found, hit, completions };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [url, id, version] = process.argv.slice(2);
  if (!url || !id) {
    console.error('usage: node v3-walk.mjs <service index URL> <package id> [version]');
    process.exit(2);
  }
  walk(url, id, version).then(
    (r) => console.log(`ok: ${id} ${r.leaf.catalogEntry.version}, ${r.versions.length} versions, ${r.registration.count} registration pages (${r.pagesFetched} fetched), nupkg ${r.nupkg.length} bytes, search ${r.search.totalHits} hits`),
    (error) => {
      console.error(`walk failed: ${error.message}`);
      process.exit(1);
    },
  );
}
