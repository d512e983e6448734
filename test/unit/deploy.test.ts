// The deployment files in deploy/ and docker-compose.yml hold together: Kubernetes manifests
// parse and agree with each other, with the Dockerfile and with walcast's drain; compose
// validates (docker-compose config) with its fleet profile wired to deploy/nginx; the
// nginx files pass `nginx -t`. No cluster and no Docker engine here: this is what can be
// checked without one.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { selfSignedCertificate } from '../support/tls.js';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const run = promisify(execFile);
const KUBERNETES = path.resolve('deploy/kubernetes');
const inCi = process.env['CI'] === 'true';
const DOCKER_COMPOSE = '/usr/bin/docker-compose';
const NGINX = process.env['WALCAST_NGINX'] ?? '/usr/sbin/nginx';
/** walcast exits at most this long after SIGTERM (the hard stop in src/cli/main.ts; docs/operators.md "Stopping"). */
const WALCAST_DRAIN_SECONDS = 25;

// The manifests are read as plain data: these are the few shapes the checks look into.
interface Probe {
  httpGet: { path: string; port: string };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  args: string[];
  ports: { name: string; containerPort: number }[];
  env: EnvVar[];
  startupProbe: Probe;
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle: { preStop: { sleep: { seconds: number } } };
  resources: { requests: { cpu: string; memory: string }; limits: { memory: string; cpu?: string } };
  securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[] } };
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}
interface DeploymentSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  strategy: { type: string; rollingUpdate: { maxUnavailable: number; maxSurge: number } };
  template: {
    metadata: { labels: Record<string, string> };
    spec: {
      terminationGracePeriodSeconds: number;
      securityContext: { runAsNonRoot: boolean; runAsUser: number; runAsGroup: number };
      containers: Container[];
    };
  };
}

async function readManifests(): Promise<Map<string, Manifest>> {
  const manifests = new Map<string, Manifest>();
  const kustomization = parse(await readFile(path.join(KUBERNETES, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  const files = (await readdir(KUBERNETES)).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml');
  expect([...kustomization.resources].sort()).toEqual([...files].sort());
  for (const file of files) {
    for (const document of parseAllDocuments(await readFile(path.join(KUBERNETES, file), 'utf8'))) {
      expect(document.errors, file).toEqual([]);
      const manifest = document.toJS() as Manifest;
      manifests.set(manifest.kind, manifest);
    }
  }
  return manifests;
}

/** Kubernetes quantities as bytes (Ki, Mi, Gi only: all these files use). */
function bytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`unexpected quantity ${quantity}`);
  return Number(match[1]) * 1024 ** { Ki: 1, Mi: 2, Gi: 3 }[match[2] as 'Ki' | 'Mi' | 'Gi'];
}

describe('deploy/kubernetes', () => {
  it('parses, and Deployment, Service and PodDisruptionBudget select the same pods on the same port', async () => {
    const manifests = await readManifests();
    expect([...manifests.keys()].sort()).toEqual(['Deployment', 'PodDisruptionBudget', 'Service']);
    const deployment = manifests.get('Deployment')!.spec as unknown as DeploymentSpec;
    const labels = deployment.selector.matchLabels;
    expect(deployment.template.metadata.labels).toMatchObject(labels);
    expect(manifests.get('Service')!.spec['selector']).toEqual(labels);
    expect((manifests.get('PodDisruptionBudget')!.spec['selector'] as { matchLabels: unknown }).matchLabels).toEqual(labels);

    const [container] = deployment.template.spec.containers;
    const port = container!.ports.find((candidate) => candidate.name === (manifests.get('Service')!.spec['ports'] as { targetPort: string }[])[0]!.targetPort);
    // walcast's default WALCAST_PORT, which the Dockerfile exposes.
    expect(port?.containerPort).toBe(8080);
    expect(await readFile('Dockerfile', 'utf8')).toMatch(/^EXPOSE 8080$/m);
    expect(manifests.get('Service')!.spec['sessionAffinity']).toBe('None');
  });

  it('rolls one pod at a time without losing capacity, and drains a pod within its grace period', async () => {
    const deployment = (await readManifests()).get('Deployment')!.spec as unknown as DeploymentSpec;
    expect(deployment.replicas).toBeGreaterThan(1);
    expect(deployment.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const [container] = deployment.template.spec.containers;
    expect(container!.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container!.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container!.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const preStop = container!.lifecycle.preStop.sleep.seconds;
    expect(preStop).toBeGreaterThanOrEqual(5);
    expect(preStop + WALCAST_DRAIN_SECONDS).toBeLessThan(deployment.template.spec.terminationGracePeriodSeconds);
  });

  it("runs as the image's non-root user on a read-only root, with secrets from a Secret and the pod name as the instance", async () => {
    const deployment = (await readManifests()).get('Deployment')!.spec as unknown as DeploymentSpec;
    const pod = deployment.template.spec;
    const imageUser = /^USER (\d+):(\d+)$/m.exec(await readFile('Dockerfile', 'utf8'));
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(imageUser?.[1]), runAsGroup: Number(imageUser?.[2]) });
    const [container] = pod.containers;
    expect(container!.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const env = new Map(container!.env.map((variable) => [variable.name, variable]));
    expect(env.get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'walcast', key: 'DATABASE_URL' });
    expect(env.get('WALCAST_JWT_SECRET')?.valueFrom?.secretKeyRef).toEqual({ name: 'walcast', key: 'WALCAST_JWT_SECRET' });
    expect(env.get('WALCAST_INSTANCE')?.valueFrom?.fieldRef).toEqual({ fieldPath: 'metadata.name' });
    // No secret written into the manifest itself.
    for (const variable of container!.env) if (/SECRET|DATABASE_URL|PASSWORD/.test(variable.name)) expect(variable.value, variable.name).toBeUndefined();
  });

  it("requests memory and CPU, and keeps V8's heap well inside the memory limit", async () => {
    const [container] = ((await readManifests()).get('Deployment')!.spec as unknown as DeploymentSpec).template.spec.containers;
    const { requests, limits } = container!.resources;
    expect(requests.cpu).toMatch(/^\d+m$/);
    expect(limits.cpu).toBeUndefined();
    expect(bytes(limits.memory)).toBeGreaterThanOrEqual(bytes(requests.memory));
    const heap = /--max-old-space-size=(\d+)/.exec(container!.env.find((variable) => variable.name === 'NODE_OPTIONS')?.value ?? '');
    expect(Number(heap?.[1]) * 1024 ** 2).toBeLessThanOrEqual(bytes(limits.memory) * 0.75);
  });
});

describe.skipIf(!existsSync(DOCKER_COMPOSE) && !inCi)('docker-compose.yml', () => {
  interface ComposeService {
    profiles?: string[];
    environment?: Record<string, string>;
    volumes?: (string | { source: string; target: string })[];
    depends_on?: Record<string, { condition: string }>;
    ports?: unknown[];
  }

  it('validates with docker-compose config; the fleet profile puts two instances behind deploy/nginx', async () => {
    const { stdout } = await run(DOCKER_COMPOSE, ['--profile', 'fleet', 'config']);
    const services = (parse(stdout) as { services: Record<string, ComposeService> }).services;
    // Today's services still start without a profile.
    expect(
      Object.keys(services)
        .filter((name) => !services[name]!.profiles)
        .sort(),
    ).toEqual(['postgres', 'walcast']);
    const fleet = Object.keys(services).filter((name) => services[name]!.profiles?.includes('fleet'));
    expect(fleet.sort()).toEqual(['nginx', 'walcast-1', 'walcast-2']);
    // Distinct instances: each its own slot.
    expect(services['walcast-1']!.environment!['WALCAST_INSTANCE']).not.toBe(services['walcast-2']!.environment!['WALCAST_INSTANCE']);

    const nginx = services['nginx']!;
    expect(Object.keys(nginx.depends_on ?? {}).sort()).toEqual(['walcast-1', 'walcast-2']);
    const mounts = new Map(
      (nginx.volumes ?? []).map((volume) => {
        const [source, target] = typeof volume === 'string' ? volume.split(':') : [volume.source, volume.target];
        return [target!, path.relative(process.cwd(), source!)];
      }),
    );
    expect(mounts.get('/etc/nginx/conf.d/default.conf')).toBe('deploy/nginx/compose.conf');
    // compose.conf includes the routes from where the mount puts them.
    const include = /include (\S+);/.exec(await readFile('deploy/nginx/compose.conf', 'utf8'))?.[1];
    expect(mounts.get(include!)).toBe('deploy/nginx/walcast-proxy.conf');
    // The upstreams nginx names are the fleet's services.
    const upstreams = [...(await readFile('deploy/nginx/compose.conf', 'utf8')).matchAll(/server ([\w-]+):8080/g)].map((match) => match[1]);
    expect(upstreams.sort()).toEqual(['walcast-1', 'walcast-2']);
  });
});

describe.skipIf(!existsSync(NGINX) && !inCi)('deploy/nginx', () => {
  it.each(['compose.conf', 'walcast.conf'])('%s passes nginx -t (upstream hosts and paths made local)', async (file) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'walcast-nginx-t-'));
    try {
      await selfSignedCertificate({ key: path.join(dir, 'tls.key'), cert: path.join(dir, 'tls.crt') });
      const site = (await readFile(path.join('deploy/nginx', file), 'utf8'))
        .replaceAll(/server walcast-\d+:8080/g, 'server 127.0.0.1:8080')
        .replaceAll('/etc/nginx/walcast-proxy.conf', path.resolve('deploy/nginx/walcast-proxy.conf'))
        .replaceAll('/etc/nginx/tls/', `${dir}/`);
      await writeFile(path.join(dir, 'site.conf'), site);
      await writeFile(
        path.join(dir, 'nginx.conf'),
        `pid ${dir}/nginx.pid;\nevents {}\nhttp {\n    client_body_temp_path ${dir}/body;\n    proxy_temp_path ${dir}/proxy;\n    fastcgi_temp_path ${dir}/fastcgi;\n    uwsgi_temp_path ${dir}/uwsgi;\n    scgi_temp_path ${dir}/scgi;\n    include ${dir}/site.conf;\n}\n`,
      );
      const { stderr } = await run(NGINX, ['-t', '-p', dir, '-e', 'stderr', '-c', path.join(dir, 'nginx.conf')]);
      expect(stderr).toMatch(/test is successful/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
