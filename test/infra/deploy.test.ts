/**
 * Production deployment files (infra/deploy): Docker is not available here, so they are not run;
 * these checks keep them from rotting silently. Every YAML file must parse (PyYAML), the
 * Kubernetes manifests must be internally consistent (selectors, referenced ConfigMaps/Secrets,
 * GPU requests, worker queues), every environment variable they set must be one mewm reads, and
 * the embedded bucket-creation and namespace-setup scripts run against real servers.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_ROLES } from '../../workflows/task-queues';
import { startS3Server, s3rverCredentials } from '../support/s3-server';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const deployDir = join(root, 'infra', 'deploy');
const python = join(root, '.venv', 'bin', 'python');
const temporalCli = join(root, '.venv', 'bin', 'temporal');

type Doc = Record<string, any>;

async function filesUnder(dir: string, pattern: RegExp): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && pattern.test(e.name)).map((e) => join(e.parentPath, e.name)).sort();
}

async function parseYaml(files: string[]): Promise<Record<string, Doc[]>> {
  const { stdout } = await run(python, [join(root, 'test', 'infra', 'parse_yaml.py'), ...files], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as Record<string, Doc[]>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Environment variables the deployment sets but no mewm code reads yet; each must be wired or removed. */
const variablesAwaitingWiring: string[] = [];
/** Read by libraries or images, not by mewm's own code. */
const externalVariables = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'NODE_ENV', 'ONNXRUNTIME_NODE_INSTALL']);

describe('infra/deploy', () => {
  let yamlFiles: string[];
  let docs: Record<string, Doc[]>;
  const k8s = () => Object.entries(docs).filter(([file]) => file.includes('/k8s/')).flatMap(([, list]) => list.filter((d) => d !== null));

  beforeAll(async () => {
    yamlFiles = await filesUnder(deployDir, /\.ya?ml$/);
    docs = await parseYaml(yamlFiles);
  });

  it('has the expected files, and every YAML file parses to non-empty documents', () => {
    const names = yamlFiles.map((file) => relative(deployDir, file));
    expect(names).toEqual(expect.arrayContaining(['compose/docker-compose.yml', 'helm/temporal-values.yaml', 'k8s/config.yaml', 'k8s/worker-gpu.yaml', 'k8s/worker-llm.yaml', 'k8s/worker-cpu.yaml']));
    for (const file of yamlFiles) {
      expect(docs[file]!.filter((doc) => doc !== null).length, relative(root, file)).toBeGreaterThan(0);
    }
  });

  it('gives every Kubernetes object apiVersion, kind, name and the mewm namespace', () => {
    for (const doc of k8s()) {
      expect(doc, JSON.stringify(doc).slice(0, 120)).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String), metadata: { name: expect.any(String) } });
      if (doc.kind !== 'Namespace') expect(doc.metadata.namespace, doc.metadata.name).toBe('mewm');
    }
  });

  it('runs one worker Deployment per task queue, selectors matching pod labels, config refs defined', () => {
    const deployments = k8s().filter((d) => d.kind === 'Deployment');
    const defined = new Set(k8s().filter((d) => d.kind === 'ConfigMap' || d.kind === 'Secret').map((d) => `${d.kind}/${d.metadata.name}`));
    const queues = deployments.map((d) => {
      const container = d.spec.template.spec.containers[0];
      for (const [key, value] of Object.entries(d.spec.selector.matchLabels)) expect(d.spec.template.metadata.labels[key], d.metadata.name).toBe(value);
      for (const source of container.envFrom ?? []) {
        const ref = source.configMapRef ? `ConfigMap/${source.configMapRef.name}` : `Secret/${source.secretRef.name}`;
        expect(defined.has(ref), `${d.metadata.name} refers to ${ref}`).toBe(true);
      }
      expect(container.args.slice(0, 2)).toEqual(['worker', '--queue']);
      return container.args[2];
    });
    // `mewm worker --queue gpu|llm|cpu` (src/cli/worker.ts) takes queue roles, not task queue names.
    expect(queues.sort()).toEqual([...QUEUE_ROLES].sort());
  });

  it('gives the GPU worker one GPU, one activity slot, no surge and a shutdown grace period', () => {
    const gpu = k8s().find((d) => d.kind === 'Deployment' && d.metadata.name === 'mewm-worker-gpu')!;
    const pod = gpu.spec.template.spec;
    const container = pod.containers[0];
    expect(container.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(container.env).toEqual(expect.arrayContaining([{ name: 'MEWM_GPU_SLOTS', value: '1' }]));
    expect(gpu.spec.strategy.rollingUpdate.maxSurge).toBe(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
    const claim = pod.volumes.find((v: Doc) => v.persistentVolumeClaim)?.persistentVolumeClaim.claimName;
    expect(k8s().some((d) => d.kind === 'PersistentVolumeClaim' && d.metadata.name === claim)).toBe(true);
  });

  it('wires the compose services consistently (dependencies exist, GPU reserved, secrets required)', () => {
    const compose = docs[join(deployDir, 'compose', 'docker-compose.yml')]![0]!;
    const services = compose.services as Record<string, Doc>;
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
    }
    expect(services['worker-gpu']!.deploy.resources.reservations.devices[0]).toMatchObject({ driver: 'nvidia', count: 1, capabilities: ['gpu'] });
    for (const worker of ['worker-cpu', 'worker-llm', 'worker-gpu']) {
      expect(services[worker]!.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', MEWM_ARTIFACTS: expect.stringMatching(/^s3:\/\//) });
    }
    expect(services.postgresql!.environment.POSTGRES_PASSWORD).toMatch(/^\$\{TEMPORAL_DB_PASSWORD:\?/);
  });

  it('sets only environment variables that mewm reads (or that libraries read) in mewm containers', async () => {
    const setByDeployment = new Set<string>();
    for (const doc of k8s()) {
      if (doc.kind === 'ConfigMap' || doc.kind === 'Secret') Object.keys(doc.data ?? doc.stringData ?? {}).forEach((key) => setByDeployment.add(key));
      const mewmContainers = (doc.spec?.template?.spec?.containers ?? []).filter((c: Doc) => /\/mewm(-gpu)?:/.test(c.image));
      for (const container of mewmContainers) for (const env of container.env ?? []) setByDeployment.add(env.name);
    }
    const compose = docs[join(deployDir, 'compose', 'docker-compose.yml')]![0]!;
    for (const service of Object.values(compose.services as Record<string, Doc>)) {
      if (service.image?.startsWith('mewm')) Object.keys(service.environment ?? {}).forEach((key) => setByDeployment.add(key));
    }
    const sources = await Promise.all(
      (await Promise.all(['src', 'workers', 'activities', 'workflows'].map((dir) => filesUnder(join(root, dir), /\.ts$/).catch(() => [])))).flat().map((file) => readFile(file, 'utf8')),
    );
    const corpus = sources.join('\n');
    const unread = [...setByDeployment].filter((name) => !externalVariables.has(name) && !corpus.includes(name)).sort();
    expect(unread, 'a variable the deployment sets is not read by mewm (typo, renamed?), or one in variablesAwaitingWiring is now wired: update that list').toEqual(variablesAwaitingWiring);
  });
});

describe('infra/deploy embedded scripts against real servers', () => {
  it('creates the artifact bucket named in MEWM_ARTIFACTS, and is idempotent (k8s and compose variants)', async () => {
    const s3 = await startS3Server('some-other-bucket');
    try {
      const k8sYaml = await readFile(join(deployDir, 'k8s', 'minio.yaml'), 'utf8');
      const composeYaml = await readFile(join(deployDir, 'compose', 'docker-compose.yml'), 'utf8');
      const parsed = await parseYaml([join(deployDir, 'k8s', 'minio.yaml'), join(deployDir, 'compose', 'docker-compose.yml')]);
      const job = parsed[join(deployDir, 'k8s', 'minio.yaml')]!.find((d) => d?.kind === 'Job')!;
      const k8sScript: string = job.spec.template.spec.containers[0].args[0];
      // Compose turns `$$` into `$` when it reads the file.
      const composeScript = (parsed[join(deployDir, 'compose', 'docker-compose.yml')]![0]!.services['minio-bucket'].command[0] as string).replaceAll('$$', '$');
      expect(k8sYaml).toContain('HeadBucketCommand');
      expect(composeYaml).toContain('HeadBucketCommand');

      for (const [bucket, script] of [['k8s-bucket', k8sScript], ['compose-bucket', composeScript]] as const) {
        const env = { ...process.env, MEWM_ARTIFACTS: `s3://${bucket}/mewm`, MEWM_S3_REGION: 'us-east-1', MEWM_S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3rverCredentials.secretAccessKey };
        const first = await run(process.execPath, ['--input-type=module', '-e', script], { env, cwd: root });
        expect(first.stdout.trim()).toBe(`created bucket ${bucket}`);
        const second = await run(process.execPath, ['--input-type=module', '-e', script], { env, cwd: root });
        expect(second.stdout.trim()).toBe(`bucket ${bucket} exists`);
      }
    } finally {
      await s3.close();
    }
  });

  describe('setup-namespace.sh against a Temporal dev server', () => {
    let server: ChildProcess | undefined;
    let address: string;

    beforeAll(async () => {
      const port = await freePort();
      address = `127.0.0.1:${port}`;
      server = spawn(temporalCli, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--http-port', String(await freePort()), '--metrics-port', String(await freePort()), '--log-level', 'error'], { stdio: 'ignore' });
      for (let attempt = 0; ; attempt++) {
        try {
          await run(temporalCli, ['operator', 'cluster', 'health', '--address', address]);
          break;
        } catch (error) {
          if (attempt > 60) throw error;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    });
    afterAll(() => {
      server?.kill('SIGTERM');
    });

    it('registers the namespace with its retention and the Keyword search attributes, twice without error', async () => {
      const env = { ...process.env, TEMPORAL_ADDRESS: address, MEWM_NAMESPACE: 'mewm-deploy-test', MEWM_RETENTION: '45d', PATH: `${join(root, '.venv', 'bin')}:${process.env.PATH}` };
      const script = join(deployDir, 'compose', 'scripts', 'setup-namespace.sh');
      await run('sh', [script], { env });
      await run('sh', [script], { env });
      const described = await run(temporalCli, ['operator', 'namespace', 'describe', '-n', 'mewm-deploy-test', '--address', address, '-o', 'json']);
      expect(JSON.parse(described.stdout).config.workflowExecutionRetentionTtl).toBe(`${45 * 24 * 3600}s`);
      const listed = await run(temporalCli, ['operator', 'search-attribute', 'list', '-n', 'mewm-deploy-test', '--address', address]);
      for (const name of ['MewmCohortId', 'MewmCaseId', 'MewmStatus']) expect(listed.stdout).toMatch(new RegExp(`${name}\\s+Keyword`));
    });
  });
});
