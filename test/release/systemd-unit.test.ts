// examples/systemd: the unit file passes systemd's own check and keeps its sandbox, and the
// config it points at is valid with the environment the README's environment file gives.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers/registry-process.js';

const folder = path.join(repoRoot, 'examples', 'systemd');
const unitFile = path.join(folder, 'registry-core.service');

describe('examples/systemd', () => {
  it('passes systemd-analyze verify, with a transient user, a state folder and the hardening options', () => {
    // throws (with systemd's complaint) on any problem it reports
    execFileSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const unit = readFileSync(unitFile, 'utf8');
    for (const line of [
      'DynamicUser=yes',
      'StateDirectory=registry-core',
      'ConfigurationDirectory=registry-core',
      'Environment=REGISTRY_CORE_CONFIG=/etc/registry-core/registry-core.config.yaml',
      'Environment=REGISTRY_CORE_DATA_DIR=/var/lib/registry-core',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
      'SystemCallFilter=@system-service',
      'CapabilityBoundingSet=',
      'KillSignal=SIGTERM',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    // no socket activation: the server binds its own port
    expect(unit).not.toMatch(/^Sockets=|^ListenStream=/m);
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
  });

  it('its config passes config check with the variables of the environment file', async () => {
    const checked = await runCli(['config', 'check', '--config', path.join(folder, 'registry-core.config.yaml')], { env: { NPM_UPSTREAM: 'http://127.0.0.1:9/' } });
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toContain('config OK');
  });
});
