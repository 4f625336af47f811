// The same run trained in two slices on the file store and on S3 (s3rver over HTTP) gives the
// same loss curve, the same checkpoint bytes and the same seeded sample: a checkpoint saves to and
// resumes from either store with identical results.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../functions/server.ts';
import { openRunStore, RunStore } from '../../shared/store/index.ts';
import { S3ObjectStore } from '../../shared/store/s3-store.ts';
import { startS3Server, type S3TestServer } from '../support/s3server.ts';
import { json, tempStore, TINY } from './helpers.ts';

let s3: S3TestServer;
let file: Awaited<ReturnType<typeof tempStore>>;
const stores: Record<'file' | 's3', RunStore> = {} as never;
const servers: RunningServer[] = [];

beforeAll(async () => {
  s3 = await startS3Server();
  file = await tempStore();
  stores.s3 = new RunStore(new S3ObjectStore(s3.storeUrl('parity'), { clientConfig: s3.clientConfig }));
  stores.file = await openRunStore(file.url);
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await s3?.stop();
  await file?.cleanup();
});

interface Outcome {
  /** Each slice's summary train loss (the metrics series samples train loss by wall time, so it is not compared). */
  sliceLosses: number[];
  valLosses: Array<[number, number]>;
  weights: Uint8Array;
  optimizer: Uint8Array;
  sample: string;
}

/** Create, train 12 + 8 steps (the second slice resumes from the store), sample with a seed. */
async function trainTwoSlices(kind: 'file' | 's3'): Promise<Outcome> {
  const server = await startServer({ port: 0, store: stores[kind], token: '', log: () => {} });
  servers.push(server);
  const url = (p: string) => `${server.url}${p}`;
  expect((await fetch(url('/runs'), json({ corpus: 'names', id: 'parity', config: { ...TINY, seed: 7 } }))).status).toBe(201);
  const first = await (await fetch(url('/runs/parity/train'), json({ steps: 12 }))).json();
  expect(first).toMatchObject({ step: 12 });
  const second = await (await fetch(url('/runs/parity/train'), json({ steps: 8 }))).json();
  expect(second).toMatchObject({ step: 20 });

  const { points } = (await (await fetch(url('/runs/parity/metrics'))).json()) as {
    points: Array<{ step: number; trainLoss?: number; valLoss?: number }>;
  };
  const ckpt = await stores[kind].loadCheckpoint('parity', 'latest');
  expect(ckpt?.step).toBe(20);
  const sample = await (await fetch(url('/runs/parity/sample'), json({ length: 80, seed: 3 }))).json();
  return {
    sliceLosses: [first.trainLoss, second.trainLoss],
    valLosses: points.filter((p) => p.valLoss !== undefined).map((p) => [p.step, p.valLoss!]),
    weights: ckpt!.files['weights.bin'],
    optimizer: ckpt!.files['optimizer.bin'],
    sample: sample.text,
  };
}

describe('file store and S3 store', () => {
  it('train, resume and sample with identical results', async () => {
    const onFile = await trainTwoSlices('file');
    const onS3 = await trainTwoSlices('s3');

    // Validation is measured every 10 steps: both slices contribute, so the second really resumed.
    expect(onFile.valLosses.map(([step]) => step)).toEqual(expect.arrayContaining([10, 20]));
    expect(onFile.sliceLosses.every((l) => Number.isFinite(l))).toBe(true);
    expect(onS3.sliceLosses).toEqual(onFile.sliceLosses);
    expect(onS3.valLosses).toEqual(onFile.valLosses);
    expect(Buffer.from(onS3.weights).equals(Buffer.from(onFile.weights))).toBe(true);
    expect(Buffer.from(onS3.optimizer).equals(Buffer.from(onFile.optimizer))).toBe(true);
    expect(onS3.sample).toBe(onFile.sample);
    expect([...onFile.sample]).toHaveLength(80);
  });
});
