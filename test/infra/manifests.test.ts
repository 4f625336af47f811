// The deployment files agree with the code: ports, health path, env vars, entry point, schedule
// route, secrets, versions. Manifests are parsed, never built or applied (no Docker/cluster here).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Service as KnativeService } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRIES } from '../../infra/build.mjs';
import { DEFAULT_LIMITS } from '../../functions/limits.ts';
import { BUILT_ADDON } from '../../shared/engine/native/env.mjs';
import {
  codeReadingEnv,
  defaultPort,
  NATIVE_ENV,
  parseAssignments,
  parseDockerfile,
  read,
  readYaml,
  rel,
  sdkReadingEnv,
  type Instruction,
} from './support.ts';

const pkg = JSON.parse(read('package.json'));
const SERVER_ENTRY = 'dist/functions/main.mjs';
/** Cloud Run kills an instance this long after SIGTERM (fixed by the platform). */
const CLOUD_RUN_SIGTERM_GRACE_SECONDS = 10;

function envIsRead(name: string): string[] {
  return [...codeReadingEnv(name), ...sdkReadingEnv(name), ...(NATIVE_ENV[name] ? [NATIVE_ENV[name]] : [])];
}

// The real app, in-process, over a file store in a temp dir: which paths exist and answer.
let app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> };
let openapi: { paths: Record<string, Record<string, unknown>> };
let storeDir: string;
beforeAll(async () => {
  storeDir = mkdtempSync(path.join(tmpdir(), 'charrnn-infra-app-'));
  const { createApp } = await import('../../functions/app.ts');
  const { openRunStore } = await import('../../shared/store/index.ts');
  app = createApp({ store: openRunStore(`file://${storeDir}`), token: 'infra-test-token' });
  const res = await app.request('/openapi.json', { headers: { authorization: 'Bearer infra-test-token' } });
  expect(res.status).toBe(200);
  openapi = await res.json();
});
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

async function expectHealthRoute(p: string) {
  expect(Object.keys(openapi.paths)).toContain(p);
  const res = await app.request(p); // no token: health checks are unauthenticated
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ ok: true });
}

describe('Dockerfiles', () => {
  for (const flavour of ['gpu', 'cpu'] as const) {
    describe(flavour, () => {
      const file = `infra/images/Dockerfile.${flavour}`;
      const ins = parseDockerfile(read(file));
      const args: Record<string, string> = {};
      // Global ARG defaults (before the first FROM) and stage-level ones; a bare `ARG X` re-declares, keeping the default.
      for (const i of ins.filter((i) => i.op === 'ARG')) {
        for (const [k, v] of Object.entries(parseAssignments(i.args))) if (i.args.includes(`${k}=`) || !(k in args)) args[k] = v;
      }
      const subst = (s: string) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a ?? b] ?? `\${${a ?? b}}`);
      const stages = ins.filter((i) => i.op === 'FROM');
      const finalStart = ins.lastIndexOf(stages[stages.length - 1]);
      const final = ins.slice(finalStart);
      const only = (list: Instruction[], op: string) => list.filter((i) => i.op === op);

      it('passes the Dockerfile linter (syntax, flags, instruction arguments)', () => {
        const text = read(file);
        const problems = lintDockerfile(text).map((d) => `${file}:${d.range.start.line + 1}: ${d.message}`);
        expect(problems).toEqual([]);
        expect(lintDockerfile(text.replace('HEALTHCHECK --interval=', 'HEALTHCHECK --intervall=')).length).toBeGreaterThan(0);
      });

      it('final stage: port, env, user, health check and entry point match the server', async () => {
        const port = defaultPort();
        expect(only(final, 'EXPOSE').map((i) => i.args)).toEqual([String(port)]);
        const env = Object.assign({}, ...only(final, 'ENV').map((i) => parseAssignments(i.args)));
        expect(env.PORT).toBe(String(port));
        for (const name of Object.keys(env)) expect(envIsRead(name), `${file}: ENV ${name} is read by nothing`).not.toEqual([]);

        const user = only(final, 'USER').map((i) => i.args);
        expect(user.length).toBe(1);
        expect(['root', '0']).not.toContain(user[0].split(':')[0]);

        const health = only(final, 'HEALTHCHECK');
        expect(health.length).toBe(1);
        const healthPath = /\/healthz\b/.exec(health[0].args)?.[0];
        expect(healthPath).toBe('/healthz');
        expect(health[0].args).toContain('process.env.PORT');
        await expectHealthRoute(healthPath!);

        // Exec form, so node is PID 1 and gets SIGTERM.
        const cmd = only(final, 'CMD');
        expect(cmd.length).toBe(1);
        const argv = JSON.parse(cmd[0].args) as string[];
        expect(argv[0]).toBe('node');
        expect(argv[argv.length - 1]).toBe(SERVER_ENTRY);
        expect(only(final, 'ENTRYPOINT')).toEqual([]);
      });

      it('the entry point is an output of infra/build.mjs, built in the native flavour', () => {
        const outputs = Object.keys(ENTRIES).map((name) => `dist/${name}.mjs`);
        expect(outputs).toContain(SERVER_ENTRY);
        expect(Object.entries(ENTRIES).map(([, src]) => src).every((src) => existsSync(rel(src)))).toBe(true);
        const build = ins.filter((i) => i.op === 'RUN' && i.args.includes('infra/build.mjs'));
        expect(build.length).toBe(1);
        expect(build[0].args).toMatch(/--native\b/);
        expect(build[0].args).toMatch(/--outdir dist\b/);
        expect(only(final, 'WORKDIR').map((i) => i.args)).toEqual(['/app']);
        expect(only(final, 'COPY').some((i) => /--from=bundle\s+\/src\/dist\s+\.\/dist$/.test(i.args))).toBe(true);
      });

      it('every COPY source exists in the repository and passes the .dockerignore allowlist', () => {
        const ignore = read(`${file}.dockerignore`)
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('#'));
        expect(ignore[0]).toBe('*');
        const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
        const copies = ins.filter((i) => i.op === 'COPY' && !i.args.includes('--from='));
        expect(copies.length).toBeGreaterThan(0);
        for (const c of copies) {
          const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
          for (const src of parts.slice(0, -1)) {
            expect(existsSync(rel(src)), `${file}:${c.line} COPY ${src}`).toBe(true);
            expect(allowed, `${file}:${c.line} COPY ${src} is excluded by the .dockerignore`).toContain(src.replace(/\/$/, ''));
          }
        }
        // Stages referenced by --from exist.
        const names = new Set(stages.map((s) => /\bAS\s+(\S+)/i.exec(s.args)?.[1]).filter(Boolean));
        for (const c of ins.filter((i) => i.op === 'COPY' && i.args.includes('--from='))) {
          expect(names, `${file}:${c.line}`).toContain(/--from=(\S+)/.exec(c.args)![1]);
        }
      });

      it('installs tfjs at the version package.json pins, with the libtensorflow mirrors as build args', () => {
        expect(args.TFJS_VERSION).toBe(pkg.dependencies['@tensorflow/tfjs']);
        expect(args.TFJS_VERSION).toBe(pkg.dependencies['@tensorflow/tfjs-backend-wasm']);
        const nativePkg = flavour === 'gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
        expect(args.TFJS_VERSION).toBe(pkg.optionalDependencies[nativePkg]);
        const install = ins.find((i) => i.op === 'RUN' && i.args.includes('npm install'));
        expect(install).toBeDefined();
        const text = subst(install!.args);
        expect(text).toContain(flavour === 'gpu' ? `"${nativePkg}@${args.TFJS_VERSION}"` : `${nativePkg}@${args.TFJS_VERSION}`);
        // The image's node_modules must supply every package the native bundle leaves external.
        expect(text).toContain(`"@tensorflow/tfjs@${args.TFJS_VERSION}"`);
        expect(text).toContain(`"@tensorflow/tfjs-backend-wasm@${args.TFJS_VERSION}"`);
        // tfjs-node's installer reads TFJS_NODE_CDN_STORAGE; node-pre-gyp reads npm_config_<module>_binary_host_mirror.
        expect('TFJS_NODE_CDN_STORAGE' in args).toBe(true);
        expect('TFJS_BINDING_HOST_MIRROR' in args).toBe(true);
        expect(install!.args).toContain('TFJS_NODE_CDN_STORAGE="${TFJS_NODE_CDN_STORAGE}"');
        expect(install!.args).toContain('npm_config_tfjs_binding_binary_host_mirror="${TFJS_BINDING_HOST_MIRROR}"');
      });

      if (flavour === 'gpu') {
        it('runs on CUDA 11.2 + cuDNN 8 (what libtensorflow 2.9.1 is built against) with Node 22+', () => {
          expect(subst(final[0].args)).toMatch(/^nvidia\/cuda:11\.2(\.\d+)?-cudnn8-runtime-/);
          const node = /node:(\d+)/.exec(args.NODE_IMAGE);
          expect(Number(node?.[1])).toBeGreaterThanOrEqual(22);
        });
      } else {
        it('runs on a slim Node 22+ image', () => {
          expect(subst(final[0].args)).toMatch(/^node:(\d+)-\w+-slim$/);
          expect(Number(/node:(\d+)/.exec(subst(final[0].args))?.[1])).toBeGreaterThanOrEqual(22);
        });

        it('builds the OpenBLAS binding in the bundle stage, ships it in the bundle, and can load it at run time', () => {
          const stage = (name: string) => {
            const start = ins.findIndex((i) => i.op === 'FROM' && new RegExp(`\\bAS\\s+${name}$`, 'i').test(i.args));
            const end = ins.findIndex((i, n) => n > start && i.op === 'FROM');
            return ins.slice(start, end < 0 ? undefined : end);
          };
          const bundle = stage('bundle');
          const runs = only(bundle, 'RUN').map((i) => i.args);
          const aptIndex = runs.findIndex((r) => r.includes('apt-get install'));
          expect(aptIndex, 'an apt-get install in the bundle stage').toBeGreaterThanOrEqual(0);
          for (const pkg of ['libopenblas-dev', 'python3', 'make', 'g++']) expect(runs[aptIndex].split(/\s+/)).toContain(pkg);
          // node-gyp gets the node image's own headers (/usr/local/include/node): nothing to download.
          const native = runs.findIndex((r) => r.includes('node shared/engine/native/build.mjs'));
          expect(native, 'a RUN of shared/engine/native/build.mjs').toBeGreaterThan(aptIndex);
          expect(runs[native]).toMatch(/npm_config_nodedir=\/usr\/local\b|--nodedir[= ]\/usr\/local\b/);
          // build.mjs never fails an install; the image must not ship without the binding.
          expect(runs[native]).toContain(`test -f shared/engine/native/${BUILT_ADDON}`);
          // infra/build.mjs copies it into dist/, so it runs after.
          expect(runs.findIndex((r) => r.includes('infra/build.mjs'))).toBeGreaterThan(native);
          // A binding built on the host never enters the context.
          expect(read(`${file}.dockerignore`).split('\n').map((l) => l.trim())).toContain('shared/engine/native/build');

          // The runtime has libopenblas.so.0 (what the binding links), and the bundle loads the binding.
          const finalRuns = only(final, 'RUN').map((i) => i.args);
          expect(finalRuns.some((r) => r.includes('apt-get install') && /\blibopenblas0(-pthread)?\b/.test(r))).toBe(true);
          const check = final.findIndex((i) => i.op === 'RUN' && i.args.includes(`node dist/functions/blas-status.mjs`));
          expect(check).toBeGreaterThan(final.findIndex((i) => i.op === 'COPY' && i.args.includes('/src/dist')));
          expect(Object.keys(ENTRIES)).toContain('functions/blas-status');
        });
      }
    });
  }
});

describe('Knative service', () => {
  const svc = readYaml('infra/knative/service.yaml');
  const tpl = svc.spec.template;
  const container = tpl.spec.containers[0];

  it('is a Knative v1 Service (valid against its schema) with one container on the server port', () => {
    expect(svc.apiVersion).toBe('serving.knative.dev/v1');
    expect(svc.kind).toBe('Service');
    expect(() => new KnativeService(svc).validate()).not.toThrow();
    // The schema check is live: a wrongly typed field fails it.
    const broken = structuredClone(svc);
    broken.spec.template.spec.timeoutSeconds = '3600s';
    expect(() => new KnativeService(broken).validate()).toThrow(/timeoutSeconds must be integer/);
    expect(tpl.spec.containers.length).toBe(1);
    expect(container.ports).toEqual([{ name: 'http1', containerPort: defaultPort() }]);
  });

  it('uses labels Cloud Run accepts (Google Cloud label rules: lowercase letters, digits, _ and -)', () => {
    const labels = { ...svc.metadata.labels, ...tpl.metadata.labels } as Record<string, string>;
    expect(Object.keys(labels).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(labels)) {
      expect(k).toMatch(/^[a-z][a-z0-9_-]{0,62}$/);
      expect(v).toMatch(/^[a-z0-9_-]{0,63}$/);
    }
  });

  it('asks for one NVIDIA L4 with always-on CPU, and enough time for a training slice', () => {
    expect(container.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(tpl.spec.nodeSelector['run.googleapis.com/accelerator']).toBe('nvidia-l4');
    expect(tpl.metadata.annotations['run.googleapis.com/cpu-throttling']).toBe('false');
    // Cloud Run's floor for an L4 instance.
    expect(Number(container.resources.limits.cpu)).toBeGreaterThanOrEqual(4);
    expect(container.resources.limits.memory).toMatch(/^(1[6-9]|[2-9]\d)Gi$/);
    expect(tpl.spec.timeoutSeconds).toBe(3600);
    expect(DEFAULT_LIMITS.maxSliceSeconds).toBeLessThan(tpl.spec.timeoutSeconds);
    expect(tpl.spec.containerConcurrency).toBeGreaterThanOrEqual(1);
    expect(tpl.spec.containerConcurrency).toBeLessThanOrEqual(DEFAULT_LIMITS.maxSampleStreams);
  });

  it('probes a health path the app serves', async () => {
    for (const probe of [container.startupProbe, container.livenessProbe]) {
      expect(probe.httpGet.port ?? defaultPort()).toBe(defaultPort());
      await expectHealthRoute(probe.httpGet.path);
    }
  });

  it('the shutdown grace fits the platform: no terminationGracePeriodSeconds (Knative rejects it), server grace <= 10 s', () => {
    expect(tpl.spec.terminationGracePeriodSeconds).toBeUndefined();
    expect(DEFAULT_LIMITS.shutdownGraceSeconds).toBeLessThanOrEqual(CLOUD_RUN_SIGTERM_GRACE_SECONDS);
    const env = container.env as { name: string; value?: string }[];
    const grace = env.find((e) => e.name === 'CHARRNN_SHUTDOWN_GRACE_SECONDS');
    if (grace) expect(Number(grace.value)).toBeLessThanOrEqual(CLOUD_RUN_SIGTERM_GRACE_SECONDS);
  });

  it('every env var is read by the code; secrets come from secret references only', () => {
    const env = container.env as { name: string; value?: string; valueFrom?: any }[];
    const names = env.map((e) => e.name);
    for (const required of ['CHARRNN_STORE', 'AWS_REGION', 'CHARRNN_API_TOKEN', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      expect(names).toContain(required);
    }
    for (const name of names) expect(envIsRead(name), `service.yaml env ${name} is read by nothing`).not.toEqual([]);
    for (const secret of ['CHARRNN_API_TOKEN', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      const e = env.find((x) => x.name === secret)!;
      expect(e.value).toBeUndefined();
      expect(e.valueFrom.secretKeyRef).toMatchObject({ name: expect.any(String), key: expect.any(String) });
    }
    expect(env.find((e) => e.name === 'CHARRNN_STORE')!.value).toMatch(/^s3:\/\/[^/]+\/.+/);
    // A backend name the engine accepts.
    const backend = env.find((e) => e.name === 'CHARRNN_BACKEND');
    if (backend) expect(read('shared/engine/backend.ts')).toContain(`want === '${backend.value}'`);
  });
});

describe('schedules', () => {
  it('the retrain route the schedules call exists, keyed by Idempotency-Key or Cloud Scheduler\'s schedule time', () => {
    const op = openapi.paths['/runs/{id}/retrain']?.post as { parameters?: { in: string; name: string }[] } | undefined;
    expect(op).toBeDefined();
    const headers = (op!.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name.toLowerCase());
    expect(headers).toContain('idempotency-key');
    expect(headers).toContain('x-cloudscheduler-scheduletime');
  });

  it('the CronJob POSTs /runs/<id>/retrain with the bearer token from a secret', () => {
    const cj = readYaml('infra/schedule/cronjob.yaml');
    expect(cj.apiVersion).toBe('batch/v1');
    expect(cj.kind).toBe('CronJob');
    expect(() => new CronJob(cj).validate()).not.toThrow();
    expect(cj.spec.concurrencyPolicy).toBe('Forbid');
    const c = cj.spec.jobTemplate.spec.template.spec.containers[0];
    const script = c.args.join('\n');
    expect(script).toContain('-X POST "${CHARRNN_URL}/runs/${RUN_ID}/retrain"');
    expect(script).toContain('Authorization: Bearer ${CHARRNN_API_TOKEN}');
    expect(script).toContain('Idempotency-Key: ${key}');
    const token = c.env.find((e: any) => e.name === 'CHARRNN_API_TOKEN');
    expect(token.valueFrom.secretKeyRef.name).toBe('charrnn-api-token');
    // Same secret as the service reads its token from.
    const svcToken = readYaml('infra/knative/service.yaml').spec.template.spec.containers[0].env.find((e: any) => e.name === 'CHARRNN_API_TOKEN');
    expect(token.valueFrom.secretKeyRef).toEqual(svcToken.valueFrom.secretKeyRef);
    // Every env var the job defines is used by its script.
    for (const e of c.env) expect(script, `cronjob env ${e.name} unused`).toMatch(new RegExp(`\\$\\{?${e.name}\\b`));
  });

  it('the Cloud Scheduler job calls the same path with the same schedule as its script', () => {
    const job = readYaml('infra/schedule/cloud-scheduler.yaml');
    expect(new URL(job.httpTarget.uri.replace('SERVICE_URL', 'svc.example')).pathname).toBe('/runs/RUN_ID/retrain');
    expect(job.httpTarget.httpMethod).toBe('POST');
    expect(job.httpTarget.headers.Authorization).toMatch(/^Bearer /);
    expect(Buffer.from(job.httpTarget.body, 'base64').toString()).toBe('{}');
    const script = read('infra/schedule/cloud-scheduler.sh');
    expect(script).toContain(`SCHEDULE="\${SCHEDULE:-${job.schedule}}"`);
    expect(script).toContain(`--attempt-deadline ${job.attemptDeadline}`);
    expect(script).toContain('URI="${SERVICE_URL%/}/runs/${RUN_ID}/retrain"');
    // Cloud Scheduler's HTTP attempt deadline is at most 30 minutes.
    expect(parseInt(job.attemptDeadline, 10)).toBeLessThanOrEqual(1800);
  });
});

describe('S3 bucket policy', () => {
  const policy = JSON.parse(read('infra/s3/bucket-policy.json'));
  const statements = policy.Statement as { Action: string | string[]; Resource: string; Condition?: any }[];
  const actionsOf = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

  it('grants object access under the prefix only, and listing with an s3:prefix condition', () => {
    expect(policy.Version).toBe('2012-10-17');
    for (const s of statements) for (const a of actionsOf(s)) expect(a).not.toContain('*');
    const objects = statements.filter((s) => s.Resource === 'arn:aws:s3:::BUCKET/PREFIX/*');
    expect(objects.flatMap(actionsOf).sort()).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject']);
    const list = statements.filter((s) => actionsOf(s).includes('s3:ListBucket'));
    expect(list.length).toBe(1);
    expect(list[0].Resource).toBe('arn:aws:s3:::BUCKET');
    expect(list[0].Condition.StringLike['s3:prefix']).toEqual(['PREFIX/*']);
  });

  it('covers every S3 call the store makes', () => {
    const src = read('shared/store/s3-store.ts');
    // IAM action each SDK command (or lib-storage Upload) needs.
    const needs: Record<string, string[]> = {
      GetObjectCommand: ['s3:GetObject'],
      HeadObjectCommand: ['s3:GetObject'],
      PutObjectCommand: ['s3:PutObject'],
      DeleteObjectCommand: ['s3:DeleteObject'],
      ListObjectsV2Command: ['s3:ListBucket'],
      Upload: ['s3:PutObject', 's3:AbortMultipartUpload'],
    };
    const used = new Set([...src.matchAll(/new (\w+(?:Command)?)\(/g)].map((m) => m[1]).filter((n) => n.endsWith('Command') || n === 'Upload'));
    expect(used.size).toBeGreaterThan(0);
    const granted = new Set(statements.flatMap(actionsOf));
    for (const call of used) {
      expect(needs[call], `s3-store.ts uses ${call}: add its IAM action to the policy and this table`).toBeDefined();
      for (const a of needs[call]) expect(granted).toContain(a);
    }
  });
});
