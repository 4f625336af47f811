// The configuration rule (functions/README.md, "Configuration"): the engine and the store receive
// their settings from the caller, and every environment variable charrnn reads is in one table.
// - Nothing under shared/ reads process.env, but for the named exceptions below.
// - Every CHARRNN_* variable product code names is a row of functions/README.md's table, and every
//   row is a variable some product code names.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE = /\.(ts|tsx|mts|mjs|js)$/;

function files(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'build' ? [] : files(rel);
    return SOURCE.test(e.name) && !e.name.endsWith('.d.mts') ? [rel] : [];
  });
}

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
/** Code without comments (a comment may mention process.env). */
const code = (file: string) => read(file).replace(/\/\*[\s\S]*?\*\/|(^|[^:])\/\/.*$/gm, '$1');

/** The files under shared/ that may read the environment, and why. */
const READS_ENV: Record<string, string> = {
  // An npm install script: its only input is the environment (npm_config_*, PATH, CHARRNN_BLAS).
  'shared/engine/native/build.mjs': 'the binding\'s install script',
  // CHARRNN_BLAS (shared with the install script) and CHARRNN_BLAS_KERNELS: the binding is loaded
  // by whichever thread first needs it, none with a caller to pass a setting through (env.mjs).
  'shared/engine/native/env.mjs': 'the binding\'s loader switches',
};

/** CHARRNN_* names in product code that are not environment variables. */
const NOT_VARIABLES: Record<string, string> = {
  CHARRNN_MODEL: 'the exported page\'s global (functions/export/page/site.mjs)',
};

describe('settings come from the caller', () => {
  it('nothing under shared/ reads process.env but the named exceptions', () => {
    const all = files('shared');
    expect(all).toContain('shared/store/run-store.ts');
    const readers = all.filter((f) => /process\s*\.\s*env\b/.test(code(f)));
    expect(readers.sort()).toEqual(Object.keys(READS_ENV).sort());
  });

  it('outside shared/, only functions/settings.ts reads a CHARRNN_* variable', () => {
    const all = ['functions', 'tui', 'infra'].flatMap(files);
    const reads = all.filter((f) => /process\s*\.\s*env\s*(\.\s*CHARRNN_|\[)/.test(code(f)));
    expect(reads).toEqual([]);
    expect(code('functions/settings.ts')).toMatch(/process\.env/);
  });
});

describe('one table of every environment variable (functions/README.md)', () => {
  const readme = read('functions/README.md');
  const section = readme.slice(readme.indexOf('## Configuration (environment)'), readme.indexOf('\n## ', readme.indexOf('## Configuration (environment)') + 1));
  const rows = section.split('\n').filter((l) => l.startsWith('| `'));
  const inTable = new Set(rows.flatMap((r) => [...r.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1])));
  const named = new Set(
    ['functions', 'shared', 'tui', 'infra']
      .flatMap(files)
      .flatMap((f) => [...read(f).matchAll(/\bCHARRNN_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]))
      .filter((name) => !(name in NOT_VARIABLES)),
  );

  it('lists every CHARRNN_* variable the code names', () => {
    expect(rows.length).toBeGreaterThan(10);
    expect(named).toContain('CHARRNN_KEEP_CHECKPOINTS');
    expect([...named].filter((v) => !inTable.has(v)).sort()).toEqual([]);
  });

  it('lists none the code does not name', () => {
    const stale = [...inTable].filter((v) => v.startsWith('CHARRNN_') && !named.has(v));
    expect(stale).toEqual([]);
    for (const v of ['PORT', 'HOST', 'AWS_REGION']) expect(inTable).toContain(v);
  });
});
