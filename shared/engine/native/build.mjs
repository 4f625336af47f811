// Builds the optional OpenBLAS binding (`npm install` runs this as postinstall). It never fails the
// install: without OpenBLAS's headers (Debian: `apt-get install libopenblas-dev`) or a compiler,
// it says so in one line and the engine keeps its wasm matmuls.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const addon = join(here, 'build', 'Release', 'charrnn_blas.node');
const say = (msg) => console.log(`charrnn: ${msg}`);

const off = ['off', '0', 'false'].includes((process.env.CHARRNN_BLAS ?? '').trim().toLowerCase());
const headers = ['/usr/include', '/usr/local/include', '/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu'].some(
  (d) => existsSync(join(d, 'cblas.h')),
);
// npm hands its bundled node-gyp to lifecycle scripts; run by hand, look beside npm.
const gyp =
  process.env.npm_config_node_gyp ??
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');

if (off) {
  rmSync(join(here, 'build'), { recursive: true, force: true });
  say('CHARRNN_BLAS=off: OpenBLAS binding not built; matmuls run on wasm SIMD');
} else if (!headers) {
  say('OpenBLAS not found (Debian: apt-get install libopenblas-dev, then npm run postinstall); matmuls run on wasm SIMD');
} else if (!existsSync(gyp)) {
  say(`node-gyp not found at ${gyp}; matmuls run on wasm SIMD`);
} else {
  const r = spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: here, encoding: 'utf8' });
  if (r.status === 0 && existsSync(addon)) {
    // -march=native: record the CPU it was built for; blas.ts loads it only on the same one.
    writeFileSync(join(here, 'build', 'Release', 'cpu.json'), JSON.stringify({ arch: process.arch, flags: cpuFlags() }) + '\n');
    say('built the OpenBLAS binding; matmuls run on the CPU\'s own vector units');
  } else {
    mkdirSync(join(here, 'build'), { recursive: true });
    const log = join(here, 'build', 'build.log');
    writeFileSync(log, `${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error ?? ''}`);
    rmSync(join(here, 'build', 'Release'), { recursive: true, force: true });
    say(`could not build the OpenBLAS binding (see ${log}); matmuls run on wasm SIMD`);
  }
}

/** The CPU's feature flags (Linux), or null where /proc/cpuinfo is absent. */
function cpuFlags() {
  try {
    return /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim() ?? null;
  } catch {
    return null;
  }
}
