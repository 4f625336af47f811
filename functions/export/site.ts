// The static site of a checkpoint, one implementation for GET /runs/:id/export (a zip) and so for
// `charrnn export`, which unpacks that zip: the page (functions/export/page/index.html and functions/export/page/page.ts bundled with
// tfjs), the checkpoint's model.json and weights.bin, its vocabulary, and model.js, which carries
// the checkpoint to the page as a script (a page opened from file:// cannot fetch model.json:
// chromium refuses, test/web/page.test.ts shows it).
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { readModelFiles } from '../../shared/engine/checkpoint.ts';
import type { CheckpointFiles } from '../../shared/engine/types.ts';
import { MODEL_GLOBAL, SITE_FILES, type ExportedModel } from './page/site.mjs';

export interface PageAssets {
  html: Uint8Array;
  script: Uint8Array;
}

let assets: Promise<PageAssets> | null = null;

/**
 * index.html and the page script: from the bundle's web/ folder (infra/build.mjs puts them beside
 * dist/cli.mjs and dist/functions/*.mjs), or from source built now with esbuild (once per process).
 */
export function pageAssets(): Promise<PageAssets> {
  assets ??= (import.meta.url.endsWith('.ts') ? buildFromSource() : readBundled()).catch((e: unknown) => {
    assets = null;
    throw e;
  });
  return assets;
}

async function readBundled(): Promise<PageAssets> {
  // This code sits in dist/ (a chunk, cli.mjs) or in dist/functions/ (main.mjs).
  const dirs = ['./web/', '../web/'].map((p) => new URL(p, import.meta.url));
  const dir = dirs.find((d) => existsSync(fileURLToPath(new URL(SITE_FILES.script, d))));
  if (!dir) throw new Error(`the bundle has no web/${SITE_FILES.script} beside it: rebuild it with npm run build`);
  const [html, script] = await Promise.all([readFile(new URL(SITE_FILES.html, dir)), readFile(new URL(SITE_FILES.script, dir))]);
  return { html, script };
}

async function buildFromSource(): Promise<PageAssets> {
  // A variable specifier: a bundle of this module must not pull in the build script (and esbuild).
  const buildScript = new URL('../../infra/build.mjs', import.meta.url).href;
  const { buildPage, PAGE_SOURCES } = (await import(buildScript)) as typeof import('../../infra/build.mjs');
  const result = await buildPage({ outfile: SITE_FILES.script, write: false });
  const html = await readFile(new URL(`../../${PAGE_SOURCES.html}`, import.meta.url));
  return { html, script: result.outputFiles![0].contents };
}

export interface SiteInput {
  run: { id: string; name: string };
  /** How the checkpoint was asked for: 'latest', 'best' or its step. */
  checkpoint: string;
  files: Pick<CheckpointFiles, 'model.json' | 'weights.bin'>;
}

/** Every file of the site, by name. */
export function siteFiles(o: SiteInput, page: PageAssets): Record<string, Uint8Array> {
  const { vocab, step } = readModelFiles(o.files); // also refuses bytes that are not a charrnn checkpoint
  const model: ExportedModel = {
    run: o.run,
    step,
    checkpoint: o.checkpoint,
    modelJson: JSON.parse(new TextDecoder().decode(o.files['model.json'])),
    weights: Buffer.from(o.files['weights.bin']).toString('base64'),
  };
  const enc = new TextEncoder();
  return {
    [SITE_FILES.html]: page.html,
    [SITE_FILES.script]: page.script,
    [SITE_FILES.model]: enc.encode(`globalThis.${MODEL_GLOBAL} = ${JSON.stringify(model)};\n`),
    [SITE_FILES.modelJson]: o.files['model.json'],
    [SITE_FILES.weights]: o.files['weights.bin'],
    [SITE_FILES.vocab]: enc.encode(JSON.stringify(vocab) + '\n'),
  };
}

/** The site as one zip, its files at the top level. */
export function zipSite(files: Record<string, Uint8Array>): Uint8Array {
  // Weights and the minified script barely compress; the text files do.
  return zipSync(Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, [bytes, { level: name === SITE_FILES.weights ? 0 : 6 }]])));
}
