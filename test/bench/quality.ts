// `npm run quality [-- --recipe auto;baseline;layers=2,hidden=512,dropout=0.25 --minutes 10 --curve 4 --json --no-torch]`
// Text quality per CPU-minute: trains a named recipe on tinyshakespeare (../shared/data) for a
// wall-clock budget, measures the validation loss over the whole validation split read as 32
// streams with the state carried (the trainer's own evaluate(), evalChars 0), and in the same run
// trains the PyTorch reference (ref_torch.py) with the same shape, batch, window and lr for the same
// time, measured the same way (--val-carried-streams 32). Validation time is not training time
// (neither for ours nor for PyTorch). One line per recipe (and per curve point), --json for JSON
// lines. See BENCHMARKS.md, "Quality per CPU-minute".
//
// --chars N trains a fixed number of characters instead of a wall-clock budget: the loss then does
// not depend on what else the machine is doing, so a sweep can run beside other work (and PyTorch
// gets the same number of characters through --max-steps).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RunConfigInput } from '../../shared/api/schemas.ts';
import { autoSize } from '../../shared/presets.ts';
import { countParams, resolveConfig, Trainer, type ConfigInput } from '../../shared/engine/index.ts';
import { benchCorpus, ROOT } from './protocol.ts';
import { quietly } from './quiet.ts';
import { machineInfo, Report } from './report.ts';
import { round } from './stats.ts';
import { PYTHON, runTorchTraining, torchUnavailable } from './torch-ref.ts';

const REF_TORCH = path.resolve(ROOT, '../shared/bench/ref_torch.py');
/** The trainer's validation streams (train.ts EVAL_STREAMS), passed to PyTorch so both read val alike. */
const VAL_STREAMS = 32;

/**
 * Named recipes. `auto` is what a user gets by default (preset auto, for this corpus and budget);
 * `baseline` is issue 16's starting point (1×256, B 64, T 100, Adam 2e-3, the shipped decay), the
 * configuration PyTorch was first compared on.
 */
const NAMED: Record<string, ConfigInput> = {
  auto: {},
  baseline: { layers: 1, hidden: 256, dropout: 0, batchSize: 64, seqLen: 100, lr: 2e-3 },
};

interface Recipe {
  name: string;
  input: ConfigInput;
}

/** `auto;baseline;layers=2,hidden=512` → recipes; a bad key or value throws naming it (the API's own schema). */
function parseRecipes(list: string): Recipe[] {
  return list.split(';').map((s) => s.trim()).filter(Boolean).map((spec) => {
    if (spec in NAMED) return { name: spec, input: NAMED[spec] };
    const [base, ...rest] = spec.split(',');
    const named = base in NAMED ? NAMED[base] : undefined;
    const fields: Record<string, unknown> = {};
    for (const kv of named ? rest : [base, ...rest]) {
      const m = /^(\w+)=(.*)$/.exec(kv.trim());
      if (!m) throw new UsageError(`--recipe: "${kv}" is not key=value (recipes: ${Object.keys(NAMED).join(', ')} or key=value,…)`);
      fields[m[1]] = m[2] === 'null' ? null : m[2] === 'true' || m[2] === 'false' ? m[2] === 'true' : Number(m[2]);
    }
    const parsed = RunConfigInput.safeParse(fields);
    if (!parsed.success) throw new UsageError(`--recipe "${spec}": ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return { name: spec, input: { ...named, ...(parsed.data as ConfigInput) } };
  });
}

class UsageError extends Error {}

interface Options {
  recipes: Recipe[];
  seconds: number | null;
  chars: number | null;
  curve: number;
  torch: boolean;
  json: boolean;
  /** The Python with torch for the reference (--python). */
  python: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      recipe: { type: 'string', default: 'auto' },
      minutes: { type: 'string', default: '10' },
      chars: { type: 'string' },
      curve: { type: 'string', default: '1' },
      torch: { type: 'boolean', default: true },
      'no-torch': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      python: { type: 'string', default: PYTHON },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run quality -- [--recipe auto;baseline;key=value,…] [--minutes 10 | --chars N] [--curve POINTS] [--no-torch] [--python PATH] [--json]');
    process.exit(0);
  }
  const minutes = Number(values.minutes);
  const chars = values.chars === undefined ? null : Number(values.chars);
  const curve = Number(values.curve);
  if (chars === null && !(minutes > 0)) throw new UsageError(`--minutes must be a positive number, got "${values.minutes}"`);
  if (chars !== null && !(chars > 0)) throw new UsageError(`--chars must be a positive number, got "${values.chars}"`);
  if (!(Number.isInteger(curve) && curve >= 1)) throw new UsageError(`--curve must be a whole number of points ≥ 1, got "${values.curve}"`);
  return {
    recipes: parseRecipes(values.recipe),
    seconds: chars === null ? minutes * 60 : null,
    chars,
    curve,
    torch: values.torch && !values['no-torch'],
    json: values.json,
    python: values.python,
  };
}

interface Point {
  trainSeconds: number;
  steps: number;
  chars: number;
  trainLoss: number;
  valLoss: number;
}

/** Our trainer on `recipe` for the budget, evaluated over the whole validation split at each curve point. */
async function trainOurs(text: string, recipe: Recipe, o: Options, onPoint: (p: Point) => void): Promise<{ config: ReturnType<typeof resolveConfig>; reason: string; params: number; threads: number; backend: string }> {
  const chars = [...text].length;
  const auto = autoSize({ corpusChars: chars, budgetSeconds: o.seconds ?? undefined });
  const input: ConfigInput = { ...recipe.input, evalEvery: 1_000_000, evalChars: 0 };
  const config = resolveConfig(input, auto);
  const trainer = await quietly(() => Trainer.create({ text, model: config.model, train: config.train }));
  const perStep = config.train.batchSize * config.train.seqLen;
  let trainSeconds = 0;
  let tail: number[] = [];
  try {
    for (let i = 1; i <= o.curve; i++) {
      const limits = o.chars !== null
        ? { steps: Math.round((o.chars / perStep) * (i / o.curve)) - trainer.step }
        : { seconds: (o.seconds! * i) / o.curve - trainSeconds };
      const t0 = performance.now();
      let lastStepEnd = t0;
      let valLoss = NaN;
      for await (const ev of trainer.run(limits)) {
        if (ev.type === 'step') {
          lastStepEnd = performance.now();
          tail = [...tail.slice(-49), ev.trainLoss];
        } else if (ev.type === 'eval') valLoss = ev.valLoss;
        else if (ev.type === 'diverged') throw new Error(`diverged at step ${ev.step}: ${ev.reason}`);
      }
      trainSeconds += (lastStepEnd - t0) / 1000;
      onPoint({ trainSeconds, steps: trainer.step, chars: trainer.step * perStep, trainLoss: tail.reduce((a, b) => a + b, 0) / tail.length, valLoss });
    }
    return { config, reason: auto.reason, params: countParams(config.model, trainer.vocab.size), threads: trainer.threads, backend: trainer.backend };
  } finally {
    trainer.dispose();
  }
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  const report = new Report(o.json);
  const corpus = benchCorpus();
  if (corpus.file === null) throw new UsageError('tinyshakespeare not found beside the checkout (../shared/data/tinyshakespeare.txt)');
  const m = machineInfo();
  report.note(`${m.cpu}, ${m.nproc} cores (${m.simd}), Node ${m.node}, load ${m.load1m}; budget ${o.chars !== null ? `${o.chars} chars` : `${o.seconds! / 60} min`}`);
  const noTorch = o.torch ? torchUnavailable(REF_TORCH, o.python) : 'off (--no-torch)';
  if (noTorch) report.note(`PyTorch reference skipped: ${noTorch}`);

  for (const recipe of o.recipes) {
    const points: Point[] = [];
    const ours = await trainOurs(corpus.text, recipe, o, (p) => {
      points.push(p);
      report.add({
        bench: 'quality',
        config: recipe.name,
        backend: 'charrnn',
        figures: { train_s: round(p.trainSeconds, 1), steps: p.steps, chars: p.chars, chars_per_sec: round(p.chars / p.trainSeconds), train_loss: round(p.trainLoss, 4), val_loss: round(p.valLoss, 4) },
        text: `${(p.trainSeconds / 60).toFixed(1)} min, ${p.steps} steps (${(p.chars / 1e6).toFixed(1)}M chars, ${Math.round(p.chars / p.trainSeconds)} chars/s): train ${p.trainLoss.toFixed(3)}, val ${p.valLoss.toFixed(4)}`,
      });
    });
    const { model, train } = ours.config;
    const shape = `${model.layers}×${model.hidden} ${model.cell}, dropout ${model.dropout}, ${model.embedding ? `embedding ${model.embedding}` : 'one-hot'}, B ${train.batchSize}, T ${train.seqLen}, lr ${train.lr} ×${train.lrDecay} after epoch ${train.lrDecayAfter}`;
    report.note(`${recipe.name}: ${shape}; ${ours.params} params; ${ours.threads} thread(s) on ${ours.backend}${recipe.name === 'auto' ? `; auto: ${ours.reason}` : ''}`);
    // A run keeps its best-validated checkpoint (`best`), so past the point where it starts to
    // overfit the lowest point of the curve is what a user samples from, as nanoGPT reports its best.
    const best = points.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
    report.note(`${recipe.name}: best along the curve: val ${best.valLoss.toFixed(4)} at ${(best.trainSeconds / 60).toFixed(1)} min (step ${best.steps})`);
    if (noTorch) continue;
    const perStep = train.batchSize * train.seqLen;
    const t = await runTorchTraining(REF_TORCH, {
      layers: model.layers, hidden: model.hidden, batch: train.batchSize, seqLen: train.seqLen, lr: train.lr,
      budget: o.seconds ?? 1e9, maxSteps: o.chars !== null ? Math.round(o.chars / perStep) : undefined,
      valChars: 100_000_000, valCarriedStreams: VAL_STREAMS, sampleChars: 0, data: corpus.file, python: o.python,
    });
    const val = t.val_carried?.loss_nats ?? NaN;
    const seconds = t.train.steps * perStep / t.train.chars_per_sec;
    report.add({
      bench: 'quality',
      config: recipe.name,
      backend: 'pytorch',
      figures: { train_s: round(seconds, 1), steps: t.train.steps, chars: t.train.steps * perStep, chars_per_sec: round(t.train.chars_per_sec), train_loss: t.train.final_train_loss_last10 ?? null, val_loss: round(val, 4), same_shape_only: model.dropout > 0 || model.embedding !== null || train.lrDecay < 1 },
      text: `${(seconds / 60).toFixed(1)} min, ${t.train.steps} steps (${(t.train.steps * perStep / 1e6).toFixed(1)}M chars, ${Math.round(t.train.chars_per_sec)} chars/s): train ${t.train.final_train_loss_last10?.toFixed(3) ?? '-'}, val ${val.toFixed(4)} (same shape, B, T, lr; random windows, no dropout or decay)`,
    });
  }
}

main().catch((e) => {
  console.error(e instanceof UsageError ? `quality: ${e.message}` : e);
  process.exit(e instanceof UsageError ? 2 : 1);
});
