export declare const SITE_FILES: {
  html: 'index.html';
  script: 'charrnn.js';
  model: 'model.js';
  modelJson: 'model.json';
  weights: 'weights.bin';
  vocab: 'vocab.json';
};
export declare const MODEL_GLOBAL: 'CHARRNN_MODEL';

/** What model.js sets MODEL_GLOBAL to. */
export interface ExportedModel {
  run: { id: string; name: string };
  /** Training step of the checkpoint, and how it was asked for ('latest', 'best' or the step). */
  step: number;
  checkpoint: string;
  /** The checkpoint's model.json, parsed. */
  modelJson: unknown;
  /** Its weights.bin, base64. */
  weights: string;
}
