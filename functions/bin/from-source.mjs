// Runs a TypeScript entry of this repository without a loader: esbuild bundles it (and its
// dependencies but tfjs and the AWS SDK) once into node_modules/.cache/charrnn/<key>/, dynamic
// imports as separate chunks, and later runs import that bundle for as long as its inputs are
// unchanged (their paths, sizes and mtimes make the key; checking ~200 files costs a few ms).
//
// Why not tsx: its loader resolves and transforms every module through a hooks thread. `charrnn
// runs` took 1.3 s through tsx here, 0.53 s from the cached bundle (min of 9; BENCHMARKS.md, cold).
// import.meta.url keeps naming each module's source file, so paths built from it (the native
// binding, the corpora, the worker shims, which still start tsx in their threads) resolve as they
// do from source. Without esbuild, or when the cache cannot be written, it falls back to tsx.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = path.join(ROOT, 'node_modules/.cache/charrnn');
/** Inputs besides the bundled sources: the build's own settings. */
const CONFIG = [fileURLToPath(import.meta.url), ...['infra/build.mjs', 'tsconfig.json', 'package.json'].map((f) => path.join(ROOT, f))];

/** The key of a set of input files: null when one is gone. */
async function keyOf(files) {
  const h = createHash('sha256');
  for (const f of files) {
    const s = await stat(f).catch(() => null);
    if (!s) return null;
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/** The module namespace of `entry` (a path relative to the repository root). */
export async function importSource(entry) {
  const name = path.basename(entry).replace(/\.tsx?$/, '');
  const index = path.join(CACHE, `${name}.json`);
  const bundleOf = (key) => path.join(CACHE, key, `${name}.mjs`);
  let key = null;
  try {
    const last = JSON.parse(await readFile(index, 'utf8'));
    if (last.key === (await keyOf(last.inputs)) && (await stat(bundleOf(last.key)).catch(() => null))) key = last.key;
  } catch {
    // no build recorded yet
  }
  key ??= await build(entry, name, index).catch(() => null);
  if (key) return import(pathToFileURL(bundleOf(key)).href);
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(path.join(ROOT, entry)).href);
}

async function build(entry, name, index) {
  const { build: esbuild } = await import('esbuild');
  await mkdir(CACHE, { recursive: true });
  const started = Date.now();
  const tmp = path.join(CACHE, `tmp-${process.pid}-${started}`);
  const sourceUrl = {
    name: 'source-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const text = await readFile(args.path, 'utf8');
        const ext = path.extname(args.path).slice(1);
        return {
          contents: text.replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href)),
          loader: ext === 'tsx' ? 'tsx' : /^[mc]?ts$/.test(ext) ? 'ts' : 'js',
        };
      });
    },
  };
  const { NODE_BUNDLE } = await import('../../infra/build.mjs');
  const result = await esbuild({
    ...NODE_BUNDLE,
    absWorkingDir: ROOT,
    entryPoints: { [name]: path.join(ROOT, entry) },
    outdir: tmp,
    // Loaded from node_modules as from source: tfjs (its wasm files and native packages sit beside
    // it), the AWS SDK (large, and only for S3 stores), and the build tools themselves.
    external: ['@tensorflow/*', '@aws-sdk/*', 'esbuild', 'tsx'],
    metafile: true,
    logLevel: 'silent',
    plugins: [sourceUrl],
  });
  const inputs = [...Object.keys(result.metafile.inputs).map((p) => path.resolve(ROOT, p)), ...CONFIG].sort();
  const key = await keyOf(inputs);
  if (!key) throw new Error('an input vanished during the build');
  // Another process may have built the same key meanwhile: its copy is as good as ours.
  await rename(tmp, path.join(CACHE, key)).catch(() => rm(tmp, { recursive: true, force: true }));
  // A file saved while esbuild read it may be newer than what was bundled: use this build once, record none.
  const edited = await Promise.all(inputs.map((f) => stat(f).then((s) => s.mtimeMs >= started - 1000)));
  if (!edited.includes(true)) {
    const next = `${index}.${process.pid}`;
    await writeFile(next, JSON.stringify({ key, inputs }));
    await rename(next, index);
    await prune(key);
  }
  return key;
}

/** Builds older than this are removed after a new build (a process started from one and still running for that long might yet load one of its chunks). */
const KEEP_MS = 24 * 3600_000;

async function prune(keep) {
  for (const d of await readdir(CACHE).catch(() => [])) {
    if (d === keep || !/^(?:[0-9a-f]{16}|tmp-.*)$/.test(d)) continue;
    const s = await stat(path.join(CACHE, d)).catch(() => null);
    if (s && Date.now() - s.mtimeMs > KEEP_MS) await rm(path.join(CACHE, d), { recursive: true, force: true }).catch(() => {});
  }
}
