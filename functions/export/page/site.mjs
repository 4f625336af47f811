// The exported site's contract, read by the page (functions/export/page/page.ts), its build (infra/build.mjs) and
// the writer (functions/export/site.ts). Plain JS so that the build script can import it.
// functions/export/page/index.html names model.js and charrnn.js in its script tags (test/web/page.test.ts checks).

/** File names in the site. */
export const SITE_FILES = {
  html: 'index.html',
  /** The page: functions/export/page/page.ts bundled with tfjs by esbuild. */
  script: 'charrnn.js',
  /** The checkpoint for the page, as a script: a page opened from file:// cannot fetch files. */
  model: 'model.js',
  modelJson: 'model.json',
  weights: 'weights.bin',
  vocab: 'vocab.json',
};

/** The global that model.js sets to the checkpoint (ExportedModel). */
export const MODEL_GLOBAL = 'CHARRNN_MODEL';
