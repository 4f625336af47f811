// The deployment files agree with the code: ports, health path, env vars, entry point, schedule
// route, secrets, versions. Manifests are parsed, never built or applied (no Docker/cluster here).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Service as KnativeService } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRIES } from '../../infra/build.mjs';
import { DEFAULT_LIMITS } from '../../functions/settings.ts';
import { backendCandidates } from '../../shared/engine/backend-choice.ts';
import { BUILT_ADDON } from '../../shared/engine/native/env.mjs';
import { NODE22_VERSION } from '../node22.mjs';
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
/**
 * Cloud Run's cap on a startup probe's failureThreshold × periodSeconds for a GPU instance (its
 * health-check docs: 600 s, 1800 s with a GPU). A first start that JIT-compiles all of
 * libtensorflow's PTX (a GPU newer than compute 8.x) is not measured here and is reported to take
 * tens of minutes, so the service allows all of it.
 */
const CLOUD_RUN_GPU_STARTUP_WINDOW_SECONDS = 1800;

function envIsRead(name: string): string[] {
  const table = NATIVE_ENV[name];
  return [...codeReadingEnv(name), ...sdkReadingEnv(name), ...(table ? [table] : [])];
}

// The real app, in-process, over a file store in a temp dir: which paths exist and answer.
let app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> };
let openapi: { paths: Record<string, Record<string, unknown>> };
let storeDir: string;
beforeAll(async () => {
  storeDir = mkdtempSync(path.join(tmpdir(), 'charrnn-infra-app-'));
  const { createApp } = await import('../../functions/app.ts');
  const { openRunStore } = await import('../../shared/store/index.ts');
  const created = createApp({ store: openRunStore(`file://${storeDir}`), token: 'infra-test-token' });
  await created.services.backend.ready(); // /healthz answers 503 until then (what main.ts does before listening)
  app = created;
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

      it('runs the Node major that the suite runs the bundle on (test/node22.mjs)', () => {
        expect(/^node:(\d+)[-.]/.exec(args.NODE_IMAGE)?.[1], `${file}: NODE_IMAGE=${args.NODE_IMAGE}`).toBe(NODE22_VERSION.split('.')[0]);
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
        if (flavour === 'cpu') {
          expect(install!.args).toContain('TFJS_NODE_CDN_STORAGE="${TFJS_NODE_CDN_STORAGE}"');
          expect(install!.args).toContain('npm_config_tfjs_binding_binary_host_mirror="${TFJS_BINDING_HOST_MIRROR}"');
        }
      });

      if (flavour === 'gpu') {
        // Stages by name; a stage FROM another one inherits its instructions.
        const stageOf = (i: number) => stages.filter((st) => ins.indexOf(st) <= i).length - 1;
        const stageName = (k: number) => /\bAS\s+(\S+)/i.exec(stages[k].args)?.[1];
        const stageRange = (k: number) => ins.slice(ins.indexOf(stages[k]) + 1, k + 1 < stages.length ? ins.indexOf(stages[k + 1]) : ins.length);
        /** The stage and those it is built FROM, innermost first. */
        const lineage = (k: number): number[] => {
          const parent = stages.findIndex((st, j) => j < k && stageName(j) === stages[k].args.split(/\s+/)[0]);
          return parent < 0 ? [k] : [k, ...lineage(parent)];
        };
        const baseImage = (k: number) => subst(stages[lineage(k).pop()!].args.split(/\s+/)[0]);
        const deps = stages.findIndex((_, k) => stageName(k) === 'deps');
        const depsIns = stageRange(deps);
        const install = depsIns.find((i) => i.op === 'RUN' && i.args.includes('npm install'))!;

        it('runs on CUDA 11.2 + cuDNN 8 (what libtensorflow 2.9.1 is built against) with Node 22+', () => {
          expect(baseImage(stages.length - 1)).toMatch(/^nvidia\/cuda:11\.2(\.\d+)?-cudnn8-runtime-/);
          expect(baseImage(deps)).toBe(baseImage(stages.length - 1));
          const node = /node:(\d+)/.exec(args.NODE_IMAGE);
          expect(Number(node?.[1])).toBeGreaterThanOrEqual(22);
        });

        it("removes the CUDA image's stale NVIDIA apt sources before any apt-get update", () => {
          const updates = ins.filter((i) => i.op === 'RUN' && i.args.includes('apt-get update'));
          expect(updates.length).toBeGreaterThan(0);
          for (const u of updates) {
            const k = stageOf(ins.indexOf(u));
            if (!baseImage(k).startsWith('nvidia/cuda')) continue;
            const before = lineage(k).flatMap((j) => stageRange(j)).filter((i) => i.op === 'RUN' && ins.indexOf(i) < ins.indexOf(u));
            const removal = before.find((i) => /\brm -f\b/.test(i.args));
            expect(removal?.args, `${file}:${u.line}`).toContain('/etc/apt/sources.list.d/cuda*.list');
            expect(removal?.args).toContain('/etc/apt/sources.list.d/nvidia-ml*.list');
          }
        });

        it("gives node-gyp Node's headers, so compiling the addon needs no download", () => {
          const copy = depsIns.find((i) => i.op === 'COPY' && i.args.includes('/usr/local/include/node'));
          expect(copy?.args).toBe('--from=node /usr/local/include/node /usr/local/include/node');
          // node-gyp (through node-pre-gyp) reads npm_config_nodedir: <dir>/include/node.
          expect(install.args).toContain('npm_config_nodedir=/usr/local ');
        });

        it('pins the sha256 of libtensorflow (published by no one else than a Bazel build) and leaves the addon\'s to the builder', () => {
          expect(args.LIBTENSORFLOW_SHA256).toMatch(/^[0-9a-f]{64}$/);
          expect(args.LIBTENSORFLOW_VERSION).toBe('2.9.1');
          // No usable default: the build stops and fetch-tfjs-native.sh says how to pin it.
          expect(args.TFJS_BINDING_SHA256).toBe('');
          const fetchRun = depsIns.find((i) => i.op === 'RUN' && i.args.includes('fetch-tfjs-native.sh'));
          expect(fetchRun?.args).toBe('sh /usr/local/bin/fetch-tfjs-native.sh gpu /tfjs');
          expect(depsIns.indexOf(fetchRun!)).toBeLessThan(depsIns.indexOf(install));
          for (const name of ['TFJS_VERSION', 'LIBTENSORFLOW_VERSION', 'TFJS_NODE_CDN_STORAGE', 'TFJS_BINDING_HOST_MIRROR', 'LIBTENSORFLOW_SHA256', 'TFJS_BINDING_SHA256']) {
            // Declared in the deps stage, where RUN sees build args as environment variables.
            expect(depsIns.some((i) => i.op === 'ARG' && Object.keys(parseAssignments(i.args)).includes(name)), name).toBe(true);
          }
        });

        it('installs tfjs-node-gpu from the verified files only: no install-time download', () => {
          expect(install.args).toContain('npm install --omit=dev --ignore-scripts');
          // Without "download", install.js uses deps/ (checked to be there) and runs node-pre-gyp.
          expect(install.args).toMatch(/node scripts\/install\.js gpu\s+&&/);
          expect(install.args).toContain('tar -xzf "/tfjs/tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-${LIBTENSORFLOW_VERSION}.tar.gz" -C deps');
          expect(install.args).toContain('test -f "deps/lib/libtensorflow.so.${LIBTENSORFLOW_VERSION}"');
          expect(install.args).toContain('npm_config_tfjs_binding_binary_host_mirror=file:///tfjs/binding ');
          expect(install.args).toContain('TFJS_NODE_BASE_URI=http://127.0.0.1:9/ ');
          expect(install.args).toContain('test -f lib/napi-v8/tfjs_binding.node');
        });

        it('fetch-tfjs-native.sh writes exactly what the install reads, and refuses a wrong or missing checksum', async () => {
          const tmp = mkdtempSync(path.join(tmpdir(), 'charrnn-fetch-native-'));
          try {
            // A mirror on disk (curl reads file:// URLs) with stand-in tarballs.
            const mirror = path.join(tmp, 'mirror');
            const put = (relPath: string, body: string) => {
              mkdirSync(path.dirname(path.join(mirror, relPath)), { recursive: true });
              writeFileSync(path.join(mirror, relPath), body);
              return createHash('sha256').update(body).digest('hex');
            };
            const libSha = put('tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz', 'libtensorflow stand-in');
            const addonSha = put(`addons/napi-v8/${args.TFJS_VERSION}/GPU-linux-${args.TFJS_VERSION}.tar.gz`, 'addon stand-in');
            const fetchTo = (out: string, env: Record<string, string>) =>
              new Promise<{ code: number; stderr: string }>((resolve) =>
                execFile('sh', [rel('infra/images/fetch-tfjs-native.sh'), 'gpu', out], {
                  env: {
                    PATH: process.env.PATH,
                    TFJS_VERSION: args.TFJS_VERSION,
                    LIBTENSORFLOW_VERSION: args.LIBTENSORFLOW_VERSION,
                    TFJS_NODE_CDN_STORAGE: `file://${mirror}/`,
                    TFJS_BINDING_HOST_MIRROR: `file://${mirror}/addons`,
                    LIBTENSORFLOW_SHA256: libSha,
                    TFJS_BINDING_SHA256: addonSha,
                    ...env,
                  },
                }, (e, _out, stderr) => resolve({ code: e ? Number(e.code) : 0, stderr })),
              );
            const listed = (dir: string): string[] =>
              existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.relative(dir, path.join(d.parentPath, d.name))).sort() : [];

            const ok = path.join(tmp, 'ok');
            expect(await fetchTo(ok, {})).toEqual({ code: 0, stderr: '' });
            expect(listed(ok)).toEqual([
              `binding/napi-v8/${args.TFJS_VERSION}/GPU-linux-${args.TFJS_VERSION}.tar.gz`,
              'tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz',
            ]);
            // The install step reads these very paths under /tfjs (its tarball, its file:// mirror).
            expect(install.args.replaceAll('${LIBTENSORFLOW_VERSION}', args.LIBTENSORFLOW_VERSION)).toContain(`/tfjs/${listed(ok)[1]}`);
            expect(install.args).toContain('=file:///tfjs/binding ');

            const wrong = await fetchTo(path.join(tmp, 'wrong'), { TFJS_BINDING_SHA256: '0'.repeat(64) });
            expect(wrong.code).toBe(1);
            expect(wrong.stderr).toContain(`sha256 mismatch for file://${mirror}/addons/napi-v8/${args.TFJS_VERSION}/GPU-linux-${args.TFJS_VERSION}.tar.gz: expected ${'0'.repeat(64)}, got ${addonSha}`);
            expect(listed(path.join(tmp, 'wrong')).some((f) => f.startsWith('binding/'))).toBe(false);

            for (const unset of ['LIBTENSORFLOW_SHA256', 'TFJS_BINDING_SHA256']) {
              const r = await fetchTo(path.join(tmp, `unset-${unset}`), { [unset]: '' });
              expect(r.code).toBe(1);
              expect(r.stderr).toContain(`build arg ${unset} is not set`);
              expect(r.stderr).toContain('sha256sum');
              expect(listed(path.join(tmp, `unset-${unset}`))).toEqual([]);
            }

            const fromSource = path.join(tmp, 'source');
            expect((await fetchTo(fromSource, { TFJS_BINDING_SHA256: 'build-from-source' })).code).toBe(0);
            expect(listed(fromSource)).toEqual(['tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz']);
            expect(install.args).toContain('if [ "${TFJS_BINDING_SHA256}" = build-from-source ]; then export npm_config_build_from_source=true; fi');
          } finally {
            rmSync(tmp, { recursive: true, force: true });
          }
        });

        it('requires the GPU at startup, keeps a writable PTX cache, and ships the smoke test', () => {
          const env = Object.assign({}, ...only(final, 'ENV').map((i) => parseAssignments(i.args)));
          expect(env.CHARRNN_REQUIRE_GPU).toBe('1');
          expect(env.CUDA_CACHE_PATH).toMatch(/^\/tmp\//);
          expect(only(final, 'COPY').map((i) => i.args)).toContain('infra/gpu-smoke.sh ./infra/gpu-smoke.sh');
          // The script runs the bundle beside it when there are no sources (the image).
          expect(ENTRIES['gpu-smoke' as keyof typeof ENTRIES]).toBe('functions/smoke/main.ts');
          expect(read('infra/gpu-smoke.sh')).toContain('"$root/dist/gpu-smoke.mjs"');
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

  it('requires the GPU at startup, and the startup probe waits out a first-start PTX JIT', () => {
    const env = container.env as { name: string; value?: string }[];
    expect(env.find((e) => e.name === 'CHARRNN_REQUIRE_GPU')?.value).toBe('1');
    const probe = container.startupProbe;
    expect(probe.httpGet.path).toBe('/healthz');
    expect(probe.periodSeconds * probe.failureThreshold).toBe(CLOUD_RUN_GPU_STARTUP_WINDOW_SECONDS);
    // Cloud Run: the timeout may not exceed the period.
    expect(probe.timeoutSeconds).toBeLessThanOrEqual(probe.periodSeconds);
    // Once started, a wedged instance is still replaced within minutes.
    const live = container.livenessProbe;
    expect(live.periodSeconds * live.failureThreshold).toBeLessThanOrEqual(300);
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
    if (backend) expect(backendCandidates({ preferred: backend.value!, requireGpu: false }).length).toBeGreaterThan(0);
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
