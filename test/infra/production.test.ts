/**
 * infra/production (the overnight cohort on the production topology, docs/deployment.md): the
 * cheap checks CI can afford. The run itself needs the Temporal server built from the Go module
 * proxy and PostgreSQL, minutes of build and of running: it is `bash infra/production/run-overnight.sh`
 * (opt-in in .ci/run with MEWM_CI_PRODUCTION=1), not a test.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const dir = join(root, 'infra', 'production');
const python = join(root, '.venv', 'bin', 'python');

describe('infra/production', () => {
  it('its shell scripts parse', async () => {
    for (const script of ['run-overnight.sh', 'build-temporal.sh']) await run('bash', ['-n', join(dir, script)]);
  });

  it('run-overnight.sh fills every placeholder of the Temporal config, which renders to a single-host Postgres config', async () => {
    const template = await readFile(join(dir, 'temporal.yaml.in'), 'utf8');
    const script = await readFile(join(dir, 'run-overnight.sh'), 'utf8');
    const placeholders = [...new Set([...template.matchAll(/@([A-Z_]+)@/g)].map((m) => m[1]!))].sort();
    const substituted = [...new Set([...script.matchAll(/-e "s[/#]@([A-Z_]+)@[/#]/g)].map((m) => m[1]!))].sort();
    expect(substituted).toEqual(placeholders);

    const values = Object.fromEntries(placeholders.map((name, i) => [name, name === 'DYNAMIC_CONFIG' ? join(dir, 'dynamicconfig.yaml') : String(20000 + i)]));
    const rendered = template.replace(/@([A-Z_]+)@/g, (_, name: string) => values[name]!);
    const folder = await mkdtemp(join(tmpdir(), 'mewm-prod-config-'));
    try {
      const file = join(folder, 'temporal.yaml');
      await writeFile(file, rendered);
      const { stdout } = await run(python, [join(root, 'test', 'infra', 'parse_yaml.py'), file, join(dir, 'dynamicconfig.yaml')]);
      const parsed = JSON.parse(stdout) as Record<string, any[]>;
      const config = parsed[file]![0];
      const stores = Object.values(config.persistence.datastores) as { sql: { pluginName: string; connectAddr: string } }[];
      expect(stores.map((s) => s.sql.pluginName)).toEqual(['postgres12', 'postgres12']);
      expect(new Set(stores.map((s) => s.sql.connectAddr))).toEqual(new Set([`127.0.0.1:${values.PG_PORT}`]));
      expect(config.clusterMetadata.clusterInformation.active.rpcAddress).toBe(`127.0.0.1:${config.services.frontend.rpc.grpcPort}`);
      const ports = Object.values(config.services).flatMap((s: any) => [s.rpc.grpcPort, s.rpc.membershipPort, s.rpc.httpPort].filter((p) => p !== undefined));
      expect(new Set(ports).size).toBe(ports.length);
      expect(parsed[join(dir, 'dynamicconfig.yaml')]![0]['system.forceSearchAttributesCacheRefreshOnRead'][0].value).toBe(true);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('s3-server.ts serves on the port it is given and stops on SIGTERM', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'mewm-prod-s3-'));
    const server = spawn(process.execPath, ['--import', 'tsx', join(dir, 's3-server.ts'), '--port', '0', '--dir', folder, '--bucket', 'mewm'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /s3 ready (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (match) resolve(match[1]!);
        });
        server.once('exit', (code) => reject(new Error(`s3-server exited with ${code}`)));
      });
      const listing = await fetch(`${endpoint}/`);
      expect(await listing.text()).toContain('<Name>mewm</Name>');
      const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      server.kill('SIGKILL');
      await rm(folder, { recursive: true, force: true });
    }
  });
});
