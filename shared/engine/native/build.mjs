// Builds the optional OpenBLAS binding (`npm install` runs this as postinstall; by hand:
// `node shared/engine/native/build.mjs`). It never fails the install: without OpenBLAS's headers
// (Debian: `apt-get install libopenblas-dev`), a compiler or Node's headers, it says so in one line
// and the engine keeps its wasm matmuls. It builds in a temporary directory and swaps the addon in
// only once the new one loads, so a failed rebuild leaves a working binding as it was. The build is
// portable (binding.gyp: kernels for every CPU of the architecture, chosen at load time), so the
// bundle can ship it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BLAS_ENV, BUILT_ADDON, blasSwitchedOff } from './env.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const addon = join(here, BUILT_ADDON);
const say = (msg) => console.log(`charrnn: ${msg}`);

const headers = ['/usr/include', '/usr/local/include', '/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu'].some(
  (d) => existsSync(join(d, 'cblas.h')),
);
// npm hands its bundled node-gyp to lifecycle scripts; run by hand, look beside npm.
const gyp = process.env.npm_config_node_gyp ?? npmsGyp();

if (blasSwitchedOff()) {
  rmSync(join(here, 'build'), { recursive: true, force: true });
  say(`${BLAS_ENV}=off: OpenBLAS binding not built; matmuls run on wasm SIMD`);
} else if (!headers) {
  say('OpenBLAS not found (Debian: apt-get install libopenblas-dev, then npm run postinstall); matmuls run on wasm SIMD');
} else if (!existsSync(gyp)) {
  say(`node-gyp not found at ${gyp}; matmuls run on wasm SIMD`);
} else {
  say(build());
}

/** Build, check and swap in; returns the line to print. */
function build() {
  mkdirSync(dirname(addon), { recursive: true });
  // Inside build/ (same filesystem, so the swap is a rename; git ignores it).
  const tmp = mkdtempSync(join(here, 'build', 'next-'));
  const log = join(here, 'build', 'build.log');
  try {
    for (const f of readdirSync(here)) if (/\.(c|h|gyp)$/.test(f)) copyFileSync(join(here, f), join(tmp, f));
    const nodedir = nodeHeaders();
    const r = spawnSync(process.execPath, [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], { cwd: tmp, encoding: 'utf8' });
    const built = join(tmp, BUILT_ADDON);
    const kept = existsSync(addon) ? 'the existing binding is unchanged' : 'matmuls run on wasm SIMD';
    if (r.status !== 0 || !existsSync(built)) {
      writeFileSync(log, `${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error ?? ''}\n`);
      return `could not build the OpenBLAS binding (see ${log}); ${kept}`;
    }
    // Load it in a fresh process before it replaces anything (a missing libopenblas.so, say).
    const probe = spawnSync(process.execPath, ['-e', 'console.log(require(process.argv[1]).variants.map((v) => v.name).join(", "))', built], {
      encoding: 'utf8',
    });
    if (probe.status !== 0) {
      writeFileSync(log, probe.stderr);
      return `built the OpenBLAS binding but it does not load (see ${log}); ${kept}`;
    }
    renameSync(built, addon); // atomic: a process loading the addon meanwhile gets the old or the new file
    rmSync(log, { force: true });
    return `built the OpenBLAS binding (kernels this CPU runs: ${probe.stdout.trim()}); matmuls run on the CPU's own vector units`;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The node-gyp of the npm installed beside the running Node, else of the npm on PATH: a Node
 * unpacked from the registry's node-<os>-<cpu> package (the test suite's Node 22) has no npm of
 * its own. The first candidate when none exists (the message names it).
 */
function npmsGyp() {
  const inNpm = join('node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const npms = [join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const bin = join(dir, 'npm');
    if (dir && existsSync(bin)) npms.push(realpathSync(bin)); // <npm>/bin/npm-cli.js, through npm's symlink
  }
  const candidates = npms.map((cli) => join(dirname(cli), '..', inNpm));
  return candidates.find((f) => existsSync(f)) ?? candidates[0];
}

/**
 * Node's headers for node-gyp, so that it never downloads them: npm's nodedir when npm runs this
 * (npm_config_nodedir), else the installation running this script (<prefix>/include/node/node.h).
 * null: let node-gyp find them (its cache, or a download).
 */
function nodeHeaders() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node.h')) ? prefix : null;
}
