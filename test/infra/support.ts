// Readers for the deployment files, shared by the infra tests: Dockerfile instructions, YAML
// manifests, and where the code reads an environment variable.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const rel = (p: string) => path.join(ROOT, p);
export const read = (p: string) => readFileSync(rel(p), 'utf8');

export function readYaml<T = any>(p: string): T {
  const docs = parseAllDocuments(read(p));
  if (docs.length !== 1) throw new Error(`${p}: expected one YAML document, got ${docs.length}`);
  if (docs[0].errors.length) throw new Error(`${p}: ${docs[0].errors[0].message}`);
  return parseYaml(read(p)) as T;
}

export interface Instruction {
  /** Upper-case instruction name. */
  op: string;
  args: string;
  /** 1-based line of the instruction's start. */
  line: number;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  let buf = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const trimmed = raw.trim();
    if (!buf && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (buf && trimmed.startsWith('#')) continue; // comment inside a continued instruction
    if (!buf) start = i + 1;
    if (trimmed.endsWith('\\')) {
      buf += trimmed.slice(0, -1) + ' ';
      continue;
    }
    buf += trimmed;
    const m = /^(\S+)\s*(.*)$/s.exec(buf)!;
    out.push({ op: m[1].toUpperCase(), args: m[2].trim(), line: start });
    buf = '';
  }
  if (buf) throw new Error('Dockerfile ends inside a continued instruction');
  return out;
}

/** KEY=VALUE pairs of an ENV or ARG instruction (values unquoted). */
export function parseAssignments(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|'[^']*'|\S*))?/g)) {
    out[m[1]] = (m[2] ?? '').replace(/^["']|["']$/g, '');
  }
  return out;
}

/** Env vars consumed by native code that is not installed on this machine, and by what. */
export const NATIVE_ENV: Record<string, string> = {
  TF_CPP_MIN_LOG_LEVEL: 'libtensorflow (tfjs-node) log level',
  TF_FORCE_GPU_ALLOW_GROWTH: 'libtensorflow: allocate GPU memory on demand',
  CUDA_CACHE_PATH: 'NVIDIA driver: PTX JIT cache directory',
  CUDA_CACHE_MAXSIZE: 'NVIDIA driver: PTX JIT cache size',
};

/** Every .ts file under the given repo folders. */
export function sourceFiles(...dirs: string[]): string[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (name === 'node_modules') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|tsx|mjs)$/.test(name)) files.push(p);
    }
  };
  for (const d of dirs) walk(rel(d));
  return files;
}

/**
 * Files in shared/ and functions/ that read `name` from the environment (process.env.X, env.X,
 * env['X'] or a 'X' name table). Not the GPU smoke (functions/smoke/): it sets the server's
 * variables for the server it starts, so naming one there says nothing about who reads it.
 */
export function codeReadingEnv(name: string): string[] {
  const pattern = new RegExp(`(?:env\\.${name}\\b|env\\[['"]${name}['"]\\]|['"\`]${name}['"\`])`);
  const smoke = rel('functions/smoke');
  return sourceFiles('shared', 'functions').filter((f) => !f.startsWith(smoke) && pattern.test(readFileSync(f, 'utf8')));
}

/** Dependency packages whose compiled code names `name` as a string (the AWS SDK's credential and region chains). */
export function sdkReadingEnv(name: string): string[] {
  const roots = ['node_modules/@aws-sdk', 'node_modules/@smithy'];
  const hits: string[] = [];
  for (const r of roots) {
    for (const pkg of readdirSync(rel(r))) {
      const dir = rel(`${r}/${pkg}/dist-cjs`);
      let files: string[] = [];
      try {
        const walk = (d: string): string[] =>
          readdirSync(d).flatMap((n) => {
            const p = path.join(d, n);
            return statSync(p).isDirectory() ? walk(p) : n.endsWith('.js') ? [p] : [];
          });
        files = walk(dir);
      } catch {
        continue;
      }
      if (files.some((f) => readFileSync(f, 'utf8').includes(`"${name}"`))) hits.push(`${r}/${pkg}`);
    }
  }
  return hits;
}

/** The server's default port, as written in functions/main.ts (`process.env.PORT ?? N`). */
export function defaultPort(): number {
  const m = /process\.env\.PORT\s*\?\?\s*(\d+)/.exec(read('functions/main.ts'));
  if (!m) throw new Error('functions/main.ts: no `process.env.PORT ?? <port>` default found');
  return Number(m[1]);
}
