// The Node that production runs (infra/images: node:22), pinned here and nowhere else. The test
// suite runs part of itself on it (test/vitest.config.ts, project `node22`), the bundle test and
// the cold-start benchmark run the bundle on it, and the benchmarks can run on it whole.
//
// Its binary comes from the npm registry (the package node-<platform>-<arch> carries the official
// build, with its headers in include/node), fetched by `npm pack` on first use into .node/ (git
// ignores it; outside node_modules so that `npm ci` keeps it).
//
//   node test/node22.mjs                  prints the binary's path (fetching it if absent)
//   node test/node22.mjs CMD [ARGS...]    runs CMD with that Node first on PATH, e.g.
//                                         node test/node22.mjs npm run bench -- --only train
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pinned version: the newest 22.x the registry served when it was last reviewed. */
export const NODE22_VERSION = '22.23.5';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGE = `node-${process.platform}-${process.arch}`;
/** Where the unpacked package lives: bin/node, include/node (what node-gyp's --nodedir wants). */
export const NODE22_DIR = path.join(ROOT, '.node', `${PACKAGE}-${NODE22_VERSION}`);
export const NODE22_BIN = path.join(NODE22_DIR, 'bin', 'node');

/** The binary's path, fetching the package first when it is not here yet. Synchronous: one fetch, ~50 MB, a few seconds. */
export function node22() {
  if (!existsSync(NODE22_BIN)) fetchNode22();
  return NODE22_BIN;
}

function fetchNode22() {
  mkdirSync(path.dirname(NODE22_DIR), { recursive: true });
  // Unpacked beside its final place and renamed in: a process that sees bin/node sees all of it.
  const tmp = mkdtempSync(`${NODE22_DIR}.tmp-`);
  try {
    const spec = `${PACKAGE}@${NODE22_VERSION}`;
    const r = spawnSync('npm', ['pack', spec, '--pack-destination', tmp, '--silent'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm pack ${spec} failed (status ${r.status}): ${(r.stderr || String(r.error)).trim()}`);
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${spec} wrote no tarball`);
    execFileSync('tar', ['-xzf', tarball], { cwd: tmp });
    const unpacked = path.join(tmp, 'package');
    const version = execFileSync(path.join(unpacked, 'bin', 'node'), ['--version'], { encoding: 'utf8' }).trim();
    if (version !== `v${NODE22_VERSION}`) throw new Error(`${spec} holds Node ${version}`);
    try {
      renameSync(unpacked, NODE22_DIR);
    } catch (e) {
      if (!existsSync(NODE22_BIN)) throw e; // else another process got there first
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bin = node22();
  const [cmd, ...args] = process.argv.slice(2);
  if (!cmd) {
    console.log(bin);
  } else {
    const PATH = `${path.dirname(bin)}${path.delimiter}${process.env.PATH ?? ''}`;
    const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, PATH } });
    process.exit(r.status ?? 1);
  }
}
