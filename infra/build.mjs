#!/usr/bin/env node
// Bundles the deployable with esbuild: the server entry, the training worker and the CLI, each one
// self-contained ESM file for Node 20+, plus the files they read at run time.
//
//   node infra/build.mjs [--outdir DIR] [--native] [--sourcemap] [--quiet]   (DIR default: <repo>/dist)
//
// Two flavours:
//  - portable (default): everything bundled except tfjs-node(-gpu); runs from a directory holding only
//    DIR/ (no node_modules) on the wasm backend (cpu as last resort).
//  - --native: every @tensorflow/* package stays external, so the image's node_modules supplies ONE
//    copy of tfjs-core shared by the engine and tfjs-node(-gpu). (A native package loaded next to a
//    bundled tfjs-core registers its 'tensorflow' backend on the other copy, and the engine would
//    silently fall back to wasm.) Used by infra/images/Dockerfile.*.
//
// Layout of DIR:
//   functions/main.mjs    server entry (node DIR/functions/main.mjs)
//   functions/worker.mjs  training worker (beside main.mjs: main resolves it relative to itself)
//   functions/train-replica.mjs  the engine's second training thread (beside worker.mjs)
//   functions/sample-worker.mjs  a sampling thread (beside main.mjs)
//   functions/blas-status.mjs    prints whether the bundle runs the OpenBLAS binding, and why not
//   functions/native/charrnn_blas.node  the OpenBLAS binding (both flavours), when it is built in the
//                         source tree: portable across CPUs of its architecture, it links
//                         libopenblas.so.0 (Debian: libopenblas0 on the machine that runs the bundle)
//   cli.mjs               the charrnn CLI
//   web/index.html, web/charrnn.js   the page `charrnn export` writes beside a checkpoint
//                         (functions/export/page/page.ts bundled for browsers with tfjs;
//                         functions/export/site.ts looks here)
//   *-<hash>.mjs          code shared by the entries or loaded on demand (esbuild chunks)
//   *.wasm, functions/*.wasm   tfjs-backend-wasm binaries next to each bundle (portable only): the wasm
//                         backend's default lookup is the bundle's own directory (__dirname)
//   node_modules/@stdlib/…/data/*.txt   the built-in corpora, where the engine's
//                         createRequire(import.meta.url).resolve('@stdlib/…/data/…') finds them
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BUILT_ADDON, BUNDLED_ADDON } from '../shared/engine/native/env.mjs';
import { SITE_FILES } from '../functions/export/page/site.mjs';
import { BUILTIN_CORPUS_FILES } from '../shared/builtin-corpora.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const requireFromRoot = createRequire(join(root, 'package.json'));

/** Bundle entry points: output path (without .mjs) → source. */
export const ENTRIES = {
  'functions/main': 'functions/main.ts',
  'functions/worker': 'functions/training/worker.ts',
  // The engine's second training thread (shared/engine/replica.ts looks for it beside main/worker).
  'functions/train-replica': 'shared/engine/replica-worker.ts',
  // Sampling threads (functions/sampling/pool.ts looks for it beside main.mjs).
  'functions/sample-worker': 'functions/sampling/worker.ts',
  // `node dist/functions/blas-status.mjs`: whether this bundle, here, runs the OpenBLAS binding.
  'functions/blas-status': 'shared/engine/native/status.ts',
  cli: 'functions/cli.ts',
  // The GPU smoke's checks (infra/gpu-smoke.sh runs them in the image, which has no sources).
  'gpu-smoke': 'functions/smoke/main.ts',
};

/** Native TensorFlow bindings: present only in the GPU/CPU images, never bundled. */
const NATIVE = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

/** Run-time data files the engine resolves through node_modules (package-relative paths). */
const CORPUS_FILES = Object.values(BUILTIN_CORPUS_FILES);

const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

// tfjs's CommonJS pieces call require(); the wasm backend locates its .wasm through __dirname.
// Aliased imports so they cannot clash with the bundle's own top-level names.
const BANNER = [
  "import { createRequire as __charrnnCreateRequire } from 'module';",
  "import { fileURLToPath as __charrnnFileURLToPath } from 'url';",
  "import { dirname as __charrnnDirname } from 'path';",
  'const require = __charrnnCreateRequire(import.meta.url);',
  'const __charrnn_filename = __charrnnFileURLToPath(import.meta.url);',
  'const __charrnn_dirname = __charrnnDirname(__charrnn_filename);',
].join('\n');

/**
 * esbuild settings shared by every Node bundle of this repository: this deployable and the source
 * CLI's cached build (functions/bin/from-source.mjs).
 */
export const NODE_BUNDLE = {
  bundle: true,
  // Shared code goes to chunks, loaded as the entries' dynamic imports run: `charrnn runs` then
  // never parses tfjs (4.5 MiB): 0.50 s instead of 0.65 s here (min of 9; BENCHMARKS.md, cold).
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  banner: { js: BANNER },
  define: {
    __dirname: '__charrnn_dirname',
    __filename: '__charrnn_filename',
  },
};

/** Where the exported page's sources are, relative to the repository root. */
export const PAGE_SOURCES = { entry: 'functions/export/page/page.ts', html: `functions/export/page/${SITE_FILES.html}` };

/**
 * The exported page's script: functions/export/page/page.ts and the engine's browser-safe half, with
 * @tensorflow/tfjs, as one classic script (an ES module would not load from file://). A Node
 * module reached from the page fails the build (platform 'browser'). `outfile` with write: false
 * names the output in memory (functions/export/site.ts builds it so from source).
 */
export function buildPage({ outfile, write = true }) {
  return build({
    absWorkingDir: root,
    entryPoints: [join(root, PAGE_SOURCES.entry)],
    outfile,
    write,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
}

function parse(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      outdir: { type: 'string' },
      native: { type: 'boolean', default: false },
      sourcemap: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  // On the command line a relative --outdir means relative to the current directory; the default
  // is the repository's dist/ wherever the script is run from.
  return { ...values, outdir: values.outdir === undefined ? join(root, 'dist') : resolve(process.cwd(), values.outdir) };
}

function formatBytes(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

/** Build into outdir (relative paths are relative to the repository root); returns [{ path, bytes }] for every file written. */
export async function bundle({ outdir = 'dist', native = false, sourcemap = false } = {}) {
  const out = resolve(root, outdir);
  // The out dir is emptied first: refuse anything that holds the sources.
  if (out === root || !relative(out, root).startsWith('..') || out === dirname(out)) {
    throw new Error(`refusing to use ${out} as the out dir: it contains the sources (choose e.g. dist)`);
  }
  await rm(out, { recursive: true, force: true });

  const result = await build({
    ...NODE_BUNDLE,
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, src]) => [name, join(root, src)])),
    outdir: out,
    // Off by default: the maps are ~3x the bundles, and node --enable-source-maps parses them at load.
    sourcemap: sourcemap ? 'linked' : false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    // The engine imports native packages through a variable specifier; listing them keeps any
    // literal import external too.
    external: native ? ['@tensorflow/*'] : NATIVE,
  });

  const written = Object.keys(result.metafile.outputs).map((p) => resolve(root, p));

  // The exported page, in both flavours: a browser loads tfjs from the page, never from node_modules.
  const page = await buildPage({ outfile: join(out, 'web', SITE_FILES.script) });
  written.push(join(out, 'web', SITE_FILES.script));
  await copyFile(join(root, PAGE_SOURCES.html), join(out, 'web', SITE_FILES.html));
  written.push(join(out, 'web', SITE_FILES.html));

  // Corpora beside the bundles, where node resolution from any DIR/**/*.mjs finds them.
  for (const spec of CORPUS_FILES) {
    const dest = join(out, 'node_modules', spec);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(requireFromRoot.resolve(spec), dest);
    written.push(dest);
  }

  if (!native) {
    const wasmDir = dirname(requireFromRoot.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    // Beside every bundle file: the wasm backend's code lands in one of the chunks.
    const bundleDirs = [...new Set(written.filter((p) => p.endsWith('.mjs')).map((p) => dirname(p)))];
    for (const dir of bundleDirs) {
      for (const file of WASM_FILES) {
        await copyFile(join(wasmDir, 'dist', file), join(dir, file));
        written.push(join(dir, file));
      }
    }
  }

  // The OpenBLAS binding, where the engine's loader looks beside the bundles (shared/engine/native/blas.ts).
  const builtBlas = join(root, 'shared/engine/native', BUILT_ADDON);
  const blas = existsSync(builtBlas);
  if (blas) {
    const dest = join(out, BUNDLED_ADDON);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(builtBlas, dest);
    written.push(dest);
  } else {
    console.warn(`build: no OpenBLAS binding in ${relative(root, builtBlas)} (npm run postinstall builds it): the bundle will run without it`);
  }

  // What went in, minus dependencies: the images copy only these folders into their build stage.
  const sources = [...new Set([...Object.keys(result.metafile.inputs), ...Object.keys(page.metafile.inputs), PAGE_SOURCES.html])]
    .filter((p) => !p.includes('node_modules/') && !p.startsWith('(disabled)'))
    .sort();
  await writeFile(
    join(out, 'build.json'),
    JSON.stringify(
      { flavour: native ? 'native' : 'portable', entries: ENTRIES, blas: blas ? BUNDLED_ADDON : null, sources, builtAt: new Date().toISOString() },
      null,
      2,
    ) + '\n',
  );
  written.push(join(out, 'build.json'));

  const files = [];
  // Paths as `<outdir name>/…`, whatever the out dir is.
  for (const path of written) files.push({ path: relative(dirname(out), path), bytes: (await stat(path)).size });
  return files;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  let opts;
  try {
    opts = parse(process.argv.slice(2));
  } catch (e) {
    console.error(`build: ${e.message}\nusage: node infra/build.mjs [--outdir DIR] [--native] [--sourcemap] [--quiet]`);
    process.exit(2);
  }
  if (opts.help) {
    console.log('usage: node infra/build.mjs [--outdir DIR] [--native] [--sourcemap] [--quiet]');
    process.exit(0);
  }
  try {
    const started = Date.now();
    const files = await bundle(opts);
    if (!opts.quiet) {
      const width = Math.max(...files.map((f) => f.path.length));
      for (const f of files.filter((f) => !f.path.endsWith('.map'))) {
        console.log(`${f.path.padEnd(width)}  ${formatBytes(f.bytes).padStart(10)}`);
      }
      const total = files.reduce((s, f) => s + f.bytes, 0);
      console.log(`${opts.native ? 'native' : 'portable'} build in ${Date.now() - started} ms, ${formatBytes(total)} total`);
    }
  } catch (e) {
    // esbuild already printed its diagnostics; one line here says what failed.
    console.error(`build failed: ${e.errors?.length ? `${e.errors.length} esbuild error(s) above` : e.message}`);
    process.exit(1);
  }
}
