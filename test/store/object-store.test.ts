// The ObjectStore contract, run against both backends: the file store on a temp directory and
// the S3 store against a real s3rver over HTTP.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidKeyError, type ObjectStore } from '../../shared/store/types.ts';
import { S3ObjectStore } from '../../shared/store/s3-store.ts';
import { backends, captureRequests } from './backends.ts';

const text = (body: Uint8Array) => Buffer.from(body).toString('utf8');

/** Puts many keys with bounded parallelism. */
async function putMany(store: ObjectStore, keys: string[], limit = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < keys.length) {
        const key = keys[next++];
        await store.put(key, key);
      }
    }),
  );
}

describe.each(backends)('ObjectStore contract: $name', (backend) => {
  it('puts, gets, heads, lists and deletes', async () => {
    const store = await backend.open();
    expect(await store.get('a/missing.txt')).toBeNull();
    expect(await store.head('a/missing.txt')).toBeNull();

    const { etag } = await store.put('a/one.txt', 'one');
    expect(etag).not.toBe('');
    await store.put('a/two.bin', new Uint8Array([0, 1, 2, 255]));
    await store.put('b/three.txt', 'three');

    const got = await store.get('a/one.txt');
    expect(got && text(got.body)).toBe('one');
    expect(got?.etag).toBe(etag);
    expect(await store.head('a/one.txt')).toEqual({ key: 'a/one.txt', etag, size: 3 });
    expect([...(await store.get('a/two.bin'))!.body]).toEqual([0, 1, 2, 255]);

    expect((await store.list('a/')).map((o) => o.key)).toEqual(['a/one.txt', 'a/two.bin']);
    expect((await store.list('')).map((o) => o.key)).toEqual(['a/one.txt', 'a/two.bin', 'b/three.txt']);
    // A prefix need not end at a '/'.
    expect((await store.list('a/t')).map((o) => o.key)).toEqual(['a/two.bin']);
    const listed = (await store.list('a/')).find((o) => o.key === 'a/one.txt');
    expect(listed).toEqual({ key: 'a/one.txt', etag, size: 3 });

    // Overwrite changes the content and the ETag.
    const second = await store.put('a/one.txt', 'uno!');
    expect(second.etag).not.toBe(etag);
    expect(text((await store.get('a/one.txt'))!.body)).toBe('uno!');

    await store.delete('a/one.txt');
    await store.delete('a/one.txt'); // missing: not an error
    expect(await store.get('a/one.txt')).toBeNull();
    expect((await store.list('')).map((o) => o.key)).toEqual(['a/two.bin', 'b/three.txt']);
  });

  it('lists the children one level below a prefix', async () => {
    const store = await backend.open();
    // Every "directory" here holds an object directly: s3rver (not S3) misses a common prefix whose
    // objects all sit two or more levels below it. RunStore only relies on runs/<id>/run.json.
    for (const key of ['runs/b/run.json', 'runs/a/run.json', 'runs/a/checkpoints/0000000001/w.bin', 'runs/a/checkpoints/k', 'runs/top.txt', 'corpora/x.txt']) await store.put(key, 'x');
    expect(await store.listChildren!('')).toEqual(['corpora', 'runs']);
    expect(await store.listChildren!('runs/')).toEqual(['a', 'b', 'top.txt']);
    expect(await store.listChildren!('runs/a/')).toEqual(['checkpoints', 'run.json']);
    expect(await store.listChildren!('nothing/')).toEqual([]);
    await expect(store.listChildren!('runs')).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.listChildren!('../')).rejects.toBeInstanceOf(InvalidKeyError);
  });

  it('round-trips unicode keys and lists them in UTF-8 byte order', async () => {
    const store = await backend.open();
    // '\uFF5E' sorts after '😀' in UTF-16 but before it in UTF-8 (and in S3).
    const keys = ['u/日本語/ファイル.txt', 'u/ünïcödé name.txt', 'u/emoji-😀.txt', 'u/emoji-\uFF5E.txt', 'u/plain.txt'];
    for (const key of keys) await store.put(key, `body of ${key}`);
    for (const key of keys) expect(text((await store.get(key))!.body)).toBe(`body of ${key}`);
    const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect((await store.list('u/')).map((o) => o.key)).toEqual(expected);
    expect(expected.indexOf('u/emoji-\uFF5E.txt')).toBeLessThan(expected.indexOf('u/emoji-😀.txt'));
    await store.delete('u/emoji-😀.txt');
    expect(await store.head('u/emoji-😀.txt')).toBeNull();
  });

  it('rejects keys that could escape the store, and writes nothing', async () => {
    const store = await backend.open();
    const bad = ['../escape', 'a/../../escape', '/abs/path', 'a//b', 'a/b/', 'a\\b', 'nul\0byte', './a', '', 'x'.repeat(1100), '.charrnn-tmp/x'];
    for (const key of bad) {
      await expect(store.put(key, 'x'), JSON.stringify(key)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.get(key), JSON.stringify(key)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.delete(key), JSON.stringify(key)).rejects.toBeInstanceOf(InvalidKeyError);
    }
    await expect(store.list('../')).rejects.toBeInstanceOf(InvalidKeyError);
    expect(await store.list('')).toEqual([]);
  });

  it('lists past 1,000 keys across pages, in order', async () => {
    const store = await backend.open();
    const keys = Array.from({ length: 1_050 }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
    await putMany(store, [...keys].reverse());
    await store.put('other/x', 'not listed');
    const capture = store instanceof S3ObjectStore ? captureRequests(store) : null;
    const listed = await store.list('many/');
    capture?.stop();
    expect(listed.length).toBe(1_050);
    if (capture) {
      // s3rver pages at 1,000 keys like S3: two ListObjectsV2 calls, the second with the token.
      expect(capture.requests.map((r) => typeof r.query['continuation-token'])).toEqual(['undefined', 'string']);
    }
    expect(listed.map((o) => o.key)).toEqual(keys);
    expect(listed[7].size).toBe(Buffer.byteLength(keys[7]));
  });

  it('round-trips a 50 MB object byte for byte', async () => {
    const store = await backend.open();
    const big = randomBytes(50 * 1024 * 1024);
    const digest = createHash('sha256').update(big).digest('hex');
    const { etag } = await store.put('big/weights.bin', big);
    const head = await store.head('big/weights.bin');
    expect(head?.size).toBe(big.length);
    expect(head?.etag).toBe(etag);
    const got = await store.get('big/weights.bin');
    expect(got!.body.byteLength).toBe(big.length);
    expect(createHash('sha256').update(got!.body).digest('hex')).toBe(digest);
    expect(Buffer.from(got!.body).equals(big)).toBe(true);
    await store.delete('big/weights.bin');
  });
});
