import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, fetchPackageView, type TestHost } from '@registry-core/testing';
import { PACKAGE_VIEW_LIMITS } from '@registry-core/api';

// What the browse API shows of an image: an index's platforms, a manifest's config and
// layers, the config's labels; pushed over the distribution API as docker pushes.
const plugin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('oci package view', () => {
  let host: TestHost;
  let auth: Record<string, string>;
  const api = (rest: string) => `${host.repositoryUrl('images')}v2/team/app/${rest}`;

  async function pushBlob(bytes: Buffer): Promise<{ mediaType: string; digest: string; size: number }> {
    const start = await fetch(api('blobs/uploads/'), { method: 'POST', headers: auth });
    await start.arrayBuffer();
    const url = new URL(start.headers.get('location')!, host.repositoryUrl('images'));
    url.searchParams.set('digest', sha256(bytes));
    const put = await fetch(url, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: bytes });
    await put.arrayBuffer();
    expect(put.status).toBe(201);
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(bytes), size: bytes.length };
  }

  async function pushManifest(reference: string, manifest: Buffer, mediaType: string): Promise<void> {
    const put = await fetch(api(`manifests/${reference}`), { method: 'PUT', headers: { ...auth, 'content-type': mediaType }, body: manifest });
    await put.arrayBuffer();
    expect(put.status).toBe(201);
  }

  /** A one-layer image for `architecture`; its config carries `labels`. */
  async function pushImage(architecture: string, labels: Record<string, string>): Promise<{ manifest: Buffer; layer: Buffer; config: Buffer }> {
    const layer = Buffer.from(`layer of ${architecture}\n`.repeat(50));
    const config = json({ architecture, os: 'linux', config: { Labels: labels }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } });
    const layerDescriptor = await pushBlob(layer);
    const configDescriptor = { ...(await pushBlob(config)), mediaType: 'application/vnd.oci.image.config.v1+json' };
    const manifest = json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDescriptor, layers: [layerDescriptor] });
    await pushManifest(sha256(manifest), manifest, 'application/vnd.oci.image.manifest.v1+json');
    return { manifest, layer, config };
  }

  beforeAll(async () => {
    host = await createTestHost({ plugins: [plugin], repositories: { images: { format: 'oci', type: 'hosted' } } });
    auth = { authorization: `Basic ${Buffer.from(`__token__:${await host.userToken('alice')}`).toString('base64')}` };
  });
  afterAll(async () => host?.stop());

  it('a manifest: media type, config and layers as files, labels as description and facts, the pull line', async () => {
    const hostile = `<script>alert(1)</script>${'d'.repeat(100_000)}`;
    const amd64 = await pushImage('amd64', { 'org.opencontainers.image.description': hostile, 'org.opencontainers.image.source': 'https://example.com/app', 'org.opencontainers.image.licenses': 'Apache-2.0' });
    await pushManifest('single', amd64.manifest, 'application/vnd.oci.image.manifest.v1+json');
    const view = await fetchPackageView(host.url, 'images', 'team/app', 'single');
    expect(view.version).toBe('single');
    expect(view.facts).toMatchObject({ 'media type': 'application/vnd.oci.image.manifest.v1+json', digest: sha256(amd64.manifest), layers: '1', source: 'https://example.com/app', licenses: 'Apache-2.0', platform: 'linux/amd64' });
    // Hostile text is bounded, never escaped here (the web app renders it as text).
    expect(view.description).toHaveLength(PACKAGE_VIEW_LIMITS.description);
    expect(view.description.startsWith('<script>')).toBe(true);
    expect(view.files.map((f) => [f.name.split(' ')[0], f.size, `sha256:${f.digests['sha256']}`])).toEqual([
      ['config', amd64.config.length, sha256(amd64.config)],
      ['layer', amd64.layer.length, sha256(amd64.layer)],
    ]);
    expect(view.install[0]).toBe(`docker pull ${new URL(host.url).host}/images/team/app:single`);
  });

  it('an index: its platforms, its manifests as files, the labels of its first image; every tag', async () => {
    const amd64 = await pushImage('amd64', { 'org.opencontainers.image.description': 'the app' });
    const arm64 = await pushImage('arm64', {});
    const descriptor = (manifest: Buffer, architecture: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, platform: { os: 'linux', architecture } });
    const index = json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [descriptor(amd64.manifest, 'amd64'), descriptor(arm64.manifest, 'arm64')] });
    await pushManifest('multi', index, 'application/vnd.oci.image.index.v1+json');
    const view = await fetchPackageView(host.url, 'images', 'team/app', 'multi');
    expect(view.facts).toMatchObject({ 'media type': 'application/vnd.oci.image.index.v1+json', digest: sha256(index), platforms: 'linux/amd64, linux/arm64' });
    expect(view.description).toBe('the app');
    expect(view.files.map((f) => f.name)).toEqual(['manifest linux/amd64', 'manifest linux/arm64']);
    expect(view.files.map((f) => `sha256:${f.digests['sha256']}`)).toEqual([sha256(amd64.manifest), sha256(arm64.manifest)]);
    expect(Object.keys(view.tags).sort()).toEqual(['multi', 'single']);
    expect(view.tags['multi']).toBe(sha256(index));
  });
});
