// Checkpoint files ↔ trainer/sampler state.
//   model.json    tfjs layers format (a Sequential: [Embedding] → LSTM/GRU ×L (returnSequences) → Dense
//                 logits), loadable by tf.loadLayersModel; the one-hot variant takes [batch, T, V]
//                 one-hot input. userDefinedMetadata.charrnn holds the vocabulary and model config.
//   weights.bin   float32 little-endian, Keras layout and gate order (LSTM i,f,c,o; GRU z,r,h).
//   optimizer.bin Adam slots (m, v[, vMax]) then the carried hidden state, float32 LE, internal layout.
//   state.json    step, epoch, batch position, RNG state, configs, losses, vocabulary, slot manifest.
// Nothing here touches tfjs, so metadata can be read cheaply anywhere.
import { CHECKPOINT_FILE_NAMES, EngineInputError, type CheckpointFiles, type ModelConfig, type TrainConfig } from './types.ts';

export const CHECKPOINT_FORMAT = 1;

export interface TrainState {
  formatVersion: number;
  step: number;
  /** Fractional epochs trained: epochIndex + position / windowsPerEpoch. */
  epoch: number;
  epochIndex: number;
  /** Window index (in the epoch) of the next step. */
  position: number;
  windowsPerEpoch: number;
  rngState: number;
  /** Learning rate of the next step. */
  lr: number;
  model: ModelConfig;
  train: TrainConfig;
  /** Loss of the run's first step: the divergence reference. */
  firstLoss: number | null;
  /** Last train losses, oldest first. */
  lossTail: { step: number; loss: number }[];
  lastValLoss: number | null;
  bestValLoss: number | null;
  /** Step of the last validation. */
  valStep: number | null;
  vocab: string[];
  backend: string;
  optimizer: { t: number; amsgrad: boolean; slots: number };
  /** Shapes of the carried hidden state tensors stored after the slots in optimizer.bin. */
  carry: number[][];
}

export interface CheckpointInfo {
  step: number;
  epoch: number;
  valLoss: number | null;
  bestValLoss: number | null;
  vocab: string[];
  model: ModelConfig;
  train: TrainConfig;
}

export interface CheckpointContents {
  state: TrainState;
  /** Weights in internal layout, CharRnn.variables() order. */
  weights: Float32Array[];
  optimizerSlots: Float32Array[];
  carry: Float32Array[];
}

// ------------------------------------------------------------------------------ weight layout

/** LSTM gate blocks: internal [i, f, o, g] ↔ Keras [i, f, c(g), o]. Same permutation both ways. */
const LSTM_PERM = [0, 1, 3, 2];

function permuteGates(a: Float32Array, H: number, perm: number[]): Float32Array {
  const cols = perm.length * H;
  const rows = a.length / cols;
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < perm.length; k++) {
      const src = r * cols + perm[k] * H;
      out.set(a.subarray(src, src + H), r * cols + k * H);
    }
  }
  return out;
}

/** Internal ↔ Keras layout for weights in CharRnn.variables() order (an involution). */
export function convertLayout(weights: Float32Array[], model: ModelConfig): Float32Array[] {
  if (model.cell !== 'lstm') return weights;
  const first = model.embedding ? 1 : 0;
  return weights.map((w, i) => (i >= first && i < first + 3 * model.layers ? permuteGates(w, model.hidden, LSTM_PERM) : w));
}

/** tfjs weight names and shapes, CharRnn.variables() order. */
export function weightSpecs(model: ModelConfig, V: number): { name: string; shape: number[]; dtype: 'float32' }[] {
  const G = model.cell === 'lstm' ? 4 : 3;
  const H = model.hidden;
  const specs: { name: string; shape: number[]; dtype: 'float32' }[] = [];
  let inDim = V;
  if (model.embedding) {
    specs.push({ name: 'embedding/embeddings', shape: [V, model.embedding], dtype: 'float32' });
    inDim = model.embedding;
  }
  for (let l = 0; l < model.layers; l++) {
    specs.push({ name: `rnn_${l}/kernel`, shape: [inDim, G * H], dtype: 'float32' });
    specs.push({ name: `rnn_${l}/recurrent_kernel`, shape: [H, G * H], dtype: 'float32' });
    specs.push({ name: `rnn_${l}/bias`, shape: [G * H], dtype: 'float32' });
    inDim = H;
  }
  specs.push({ name: 'head/kernel', shape: [H, V], dtype: 'float32' });
  specs.push({ name: 'head/bias', shape: [V], dtype: 'float32' });
  return specs;
}

/** The Keras-style topology tfjs-layers writes for this Sequential model. */
export function modelTopology(model: ModelConfig, V: number): object {
  const init = (name: string) => ({ class_name: name, config: {} });
  const layers: object[] = [];
  if (model.embedding) {
    layers.push({
      class_name: 'Embedding',
      config: {
        name: 'embedding', trainable: true, input_dim: V, output_dim: model.embedding,
        embeddings_initializer: init('Zeros'), embeddings_regularizer: null, activity_regularizer: null,
        embeddings_constraint: null, mask_zero: null, input_length: null, batch_input_shape: [null, null], dtype: 'float32',
      },
    });
  }
  for (let l = 0; l < model.layers; l++) {
    const config: Record<string, unknown> = {
      name: `rnn_${l}`, trainable: true, units: model.hidden, activation: 'tanh', recurrent_activation: 'sigmoid',
      use_bias: true, kernel_initializer: init('Zeros'), recurrent_initializer: init('Zeros'), bias_initializer: init('Zeros'),
      kernel_regularizer: null, recurrent_regularizer: null, bias_regularizer: null, activity_regularizer: null,
      kernel_constraint: null, recurrent_constraint: null, bias_constraint: null, dropout: 0, recurrent_dropout: 0,
      implementation: null, return_sequences: true, return_state: false, go_backwards: false, stateful: false, unroll: false,
    };
    if (model.cell === 'lstm') config.unit_forget_bias = null;
    else config.reset_after = false;
    if (l === 0 && !model.embedding) {
      config.batch_input_shape = [null, null, V];
      config.dtype = 'float32';
    }
    layers.push({ class_name: model.cell === 'lstm' ? 'LSTM' : 'GRU', config });
  }
  layers.push({
    class_name: 'Dense',
    config: {
      name: 'head', trainable: true, units: V, activation: 'linear', use_bias: true,
      kernel_initializer: init('Zeros'), bias_initializer: init('Zeros'), kernel_regularizer: null, bias_regularizer: null,
      activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
    },
  });
  return {
    class_name: 'Sequential',
    config: { name: 'charrnn', layers },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  };
}

// ----------------------------------------------------------------------------- write / read

const enc = new TextEncoder();
const dec = new TextDecoder();

function concatF32(arrays: Float32Array[]): Uint8Array {
  const total = arrays.reduce((a, x) => a + x.length, 0);
  const out = new Float32Array(total);
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return toLittleEndian(out);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function toLittleEndian(a: Float32Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes.length);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i], true);
  return out;
}

function splitF32(bytes: Uint8Array, sizes: number[], what: string): Float32Array[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (bytes.byteLength !== total * 4) throw new EngineInputError(`checkpoint ${what} has ${bytes.byteLength} bytes, expected ${total * 4}`, 'checkpoint');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Float32Array[] = [];
  let o = 0;
  for (const n of sizes) {
    const a = new Float32Array(n);
    if (LITTLE_ENDIAN && (bytes.byteOffset + o * 4) % 4 === 0) a.set(new Float32Array(bytes.buffer, bytes.byteOffset + o * 4, n));
    else for (let i = 0; i < n; i++) a[i] = dv.getFloat32((o + i) * 4, true);
    out.push(a);
    o += n;
  }
  return out;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Serialise. `weights` in internal layout and CharRnn.variables() order. */
export function writeCheckpoint(c: CheckpointContents): CheckpointFiles {
  const { state } = c;
  const V = state.vocab.length;
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'charrnn',
    convertedBy: null,
    modelTopology: modelTopology(state.model, V),
    weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs(state.model, V) }],
    userDefinedMetadata: {
      charrnn: { formatVersion: CHECKPOINT_FORMAT, vocab: state.vocab, model: state.model, step: state.step, input: state.model.embedding ? 'ids' : 'one-hot' },
    },
  };
  return {
    'model.json': enc.encode(JSON.stringify(modelJson)),
    'weights.bin': concatF32(convertLayout(c.weights, state.model)),
    'optimizer.bin': concatF32([...c.optimizerSlots, ...c.carry]),
    'state.json': enc.encode(JSON.stringify(state)),
  };
}

function parseJson<T>(bytes: Uint8Array | undefined, name: string): T {
  if (!bytes) throw new EngineInputError(`checkpoint is missing ${name}`, 'checkpoint');
  try {
    return JSON.parse(dec.decode(bytes)) as T;
  } catch {
    throw new EngineInputError(`checkpoint ${name} is not valid JSON`, 'checkpoint');
  }
}

function readState(files: Partial<CheckpointFiles>): TrainState {
  const state = parseJson<TrainState>(files['state.json'], 'state.json');
  if (state.formatVersion !== CHECKPOINT_FORMAT) {
    throw new EngineInputError(`checkpoint format ${state.formatVersion} is not supported (expected ${CHECKPOINT_FORMAT})`, 'checkpoint');
  }
  return state;
}

/** Step, epoch, losses, vocabulary and configs from state.json alone. */
export function readCheckpointInfo(files: Partial<CheckpointFiles>): CheckpointInfo {
  const s = readState(files);
  return { step: s.step, epoch: s.epoch, valLoss: s.lastValLoss, bestValLoss: s.bestValLoss, vocab: s.vocab, model: s.model, train: s.train };
}

/** Model config, vocabulary and internal-layout weights from model.json + weights.bin (what a sampler needs). */
export function readModelFiles(files: Pick<CheckpointFiles, 'model.json' | 'weights.bin'>): { model: ModelConfig; vocab: string[]; step: number; weights: Float32Array[] } {
  const mj = parseJson<{ userDefinedMetadata?: { charrnn?: { model: ModelConfig; vocab: string[]; step: number } } }>(files['model.json'], 'model.json');
  const meta = mj.userDefinedMetadata?.charrnn;
  if (!meta) throw new EngineInputError('model.json has no charrnn metadata (not a charrnn checkpoint)', 'checkpoint');
  if (!files['weights.bin']) throw new EngineInputError('checkpoint is missing weights.bin', 'checkpoint');
  const specs = weightSpecs(meta.model, meta.vocab.length);
  const keras = splitF32(files['weights.bin'], specs.map((s) => size(s.shape)), 'weights.bin');
  return { model: meta.model, vocab: meta.vocab, step: meta.step ?? 0, weights: convertLayout(keras, meta.model) };
}

/** Everything a trainer needs to resume. */
export function readCheckpoint(files: CheckpointFiles): CheckpointContents {
  for (const name of CHECKPOINT_FILE_NAMES) if (!files[name]) throw new EngineInputError(`checkpoint is missing ${name}`, 'checkpoint');
  const state = readState(files);
  const { weights } = readModelFiles(files);
  const slotSizes = weightSpecs(state.model, state.vocab.length).map((s) => size(s.shape));
  const slots: number[] = [];
  for (let k = 0; k < state.optimizer.slots; k++) slots.push(...slotSizes);
  const parts = splitF32(files['optimizer.bin'], [...slots, ...state.carry.map(size)], 'optimizer.bin');
  return { state, weights, optimizerSlots: parts.slice(0, slots.length), carry: parts.slice(slots.length) };
}
