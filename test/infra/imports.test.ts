// The direction of dependencies in product code (functions/, tui/, shared/), read from the import
// statements themselves, type-only ones included (a type is a dependency too):
// - shared/store knows nothing of the engine, the engine nothing of the API, the API nothing of the engine;
// - no import cycle anywhere.
// (What the TUI may reach at run time is test/tui/imports.test.ts: it bundles the screens.)
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE = /\.(ts|tsx|mts|mjs)$/;
const SPECIFIER = /(?:^|[\s;])(?:import|export)\s(?:[^'"]*?\sfrom\s)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function files(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'build' ? [] : files(rel);
    return SOURCE.test(e.name) && !e.name.endsWith('.d.mts') ? [rel] : [];
  });
}

/** file → the product files it imports (relative specifiers only; packages are outside the graph). */
function importGraph(): Map<string, string[]> {
  const all = ['functions', 'tui', 'shared'].flatMap(files);
  const known = new Set(all);
  const graph = new Map<string, string[]>();
  for (const file of all) {
    const text = readFileSync(path.join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\/|(^|[^:])\/\/.*$/gm, '$1');
    const deps = new Set<string>();
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      if (known.has(target)) deps.add(target);
    }
    graph.set(file, [...deps]);
  }
  return graph;
}

/** The import cycles: strongly connected components of more than one file, or a file importing itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const dep of graph.get(file) ?? []) {
      if (!index.has(dep)) {
        visit(dep);
        low.set(file, Math.min(low.get(file)!, low.get(dep)!));
      } else if (onStack.has(dep)) low.set(file, Math.min(low.get(file)!, index.get(dep)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    for (let f = stack.pop()!; ; f = stack.pop()!) {
      onStack.delete(f);
      component.push(f);
      if (f === file) break;
    }
    if (component.length > 1 || graph.get(file)?.includes(file)) found.push(component.sort());
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return found;
}

const graph = importGraph();
const crossing = (from: string, to: string) =>
  [...graph].flatMap(([file, deps]) => (file.startsWith(from) ? deps.filter((d) => d.startsWith(to)).map((d) => `${file} → ${d}`) : []));

describe('import graph', () => {
  it('reads the product code', () => {
    expect(graph.get('functions/app.ts')?.length).toBeGreaterThan(3);
    expect(graph.get('shared/store/run-store.ts')).toContain('shared/store/keys.ts');
  });

  it('the store does not import the engine', () => {
    expect(crossing('shared/store/', 'shared/engine/')).toEqual([]);
  });

  it('the engine does not import the API, nor the API the engine', () => {
    expect(crossing('shared/engine/', 'shared/api/')).toEqual([]);
    expect(crossing('shared/api/', 'shared/engine/')).toEqual([]);
  });

  it('shared/ imports nothing from functions/ or tui/', () => {
    expect([...crossing('shared/', 'functions/'), ...crossing('shared/', 'tui/')]).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph).map((c) => c.join(', '))).toEqual([]);
  });
});
