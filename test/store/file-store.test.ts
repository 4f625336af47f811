// File-store specifics: conditional-write semantics (s3rver cannot check these, so this is
// where they are proven), locking under concurrency, atomic writes, URL parsing, path safety.
import { createHash } from 'node:crypto';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FileObjectStore, fileStoreRoot } from '../../shared/store/file-store.ts';
import { openObjectStore } from '../../shared/store/open.ts';
import { InvalidKeyError, PreconditionFailedError, StoreConfigError } from '../../shared/store/types.ts';
import { openFileStore } from './backends.ts';

describe('file store: conditional writes', () => {
  it('ifNoneMatch creates once, then fails with PreconditionFailedError', async () => {
    const store = await openFileStore();
    const first = await store.put('c/x.json', '{"v":1}', { ifNoneMatch: '*' });
    await expect(store.put('c/x.json', '{"v":2}', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
    const got = await store.get('c/x.json');
    expect(Buffer.from(got!.body).toString()).toBe('{"v":1}');
    expect(got!.etag).toBe(first.etag);
  });

  it('ifMatch replaces only the expected version', async () => {
    const store = await openFileStore();
    const v1 = await store.put('c/y.json', 'one');
    const v2 = await store.put('c/y.json', 'two', { ifMatch: v1.etag });
    await expect(store.put('c/y.json', 'three', { ifMatch: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(store.put('c/missing.json', 'x', { ifMatch: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(Buffer.from((await store.get('c/y.json'))!.body).toString()).toBe('two');
    expect(await store.head('c/missing.json')).toBeNull();
    // Delete with ifMatch: a stale ETag or a missing key loses; the current one wins.
    await expect(store.delete('c/y.json', { ifMatch: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    await store.delete('c/y.json', { ifMatch: v2.etag });
    expect(await store.head('c/y.json')).toBeNull();
    await expect(store.delete('c/y.json', { ifMatch: v2.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  it('ETag is the content hash: stable per content, equal across put/get/head/list', async () => {
    const store = await openFileStore();
    const a = await store.put('e/1', 'same bytes');
    const b = await store.put('e/2', 'same bytes');
    expect(a.etag).toBe(b.etag);
    expect(a.etag).toBe(createHash('sha256').update('same bytes').digest('hex'));
    expect((await store.get('e/1'))!.etag).toBe(a.etag);
    expect((await store.head('e/1'))!.etag).toBe(a.etag);
    expect((await store.list('e/')).map((o) => o.etag)).toEqual([a.etag, a.etag]);
  });

  it('exactly one of many racing conditional writers wins', async () => {
    const store = await openFileStore();
    const creates = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => store.put('race/new', `writer ${i}`, { ifNoneMatch: '*' })));
    expect(creates.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(creates.filter((r) => r.status === 'rejected' && r.reason instanceof PreconditionFailedError)).toHaveLength(15);

    const base = await store.put('race/cas', 'base');
    const swaps = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => store.put('race/cas', `swap ${i}`, { ifMatch: base.etag })));
    const winners = swaps.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(swaps.filter((r) => r.status === 'rejected' && r.reason instanceof PreconditionFailedError)).toHaveLength(15);
    expect(Buffer.from((await store.get('race/cas'))!.body).toString()).toBe(`swap ${winners[0]}`);
  });

  it('takes over a lock file left by a crashed process', async () => {
    const store = await openFileStore();
    const v1 = await store.put('lk/key', 'v1');
    const lockDir = path.join(store.root, '.charrnn-locks');
    await mkdir(lockDir, { recursive: true });
    const lock = path.join(lockDir, `${createHash('sha256').update('lk/key').digest('hex')}.lock`);
    await writeFile(lock, 'dead process');
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    await store.put('lk/key', 'v2', { ifMatch: v1.etag });
    expect(Buffer.from((await store.get('lk/key'))!.body).toString()).toBe('v2');
  });

  it('leaves no temp or lock files behind, and prunes emptied directories', async () => {
    const store = await openFileStore();
    const v = await store.put('d/e/f.txt', 'x', { ifNoneMatch: '*' });
    await store.put('d/e/f.txt', 'y', { ifMatch: v.etag });
    await store.put('d/g.txt', 'z');
    expect(await readdir(path.join(store.root, '.charrnn-tmp'))).toEqual([]);
    expect(await readdir(path.join(store.root, '.charrnn-locks'))).toEqual([]);
    await store.delete('d/e/f.txt');
    await expect(stat(path.join(store.root, 'd', 'e'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await store.list('')).map((o) => o.key)).toEqual(['d/g.txt']);
  });

  it("sweeps a crashed writer's stale temp files on the first write", async () => {
    const store = await openFileStore();
    const tmpDir = path.join(store.root, '.charrnn-tmp');
    await mkdir(tmpDir, { recursive: true });
    const stale = path.join(tmpDir, 'left-by-a-crash');
    const fresh = path.join(tmpDir, 'another-writer-in-flight');
    await writeFile(stale, 'half a checkpoint');
    await writeFile(fresh, 'being written right now');
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, old, old);
    await new FileObjectStore(store.root).put('k', 'v');
    expect(await readdir(tmpDir)).toEqual(['another-writer-in-flight']);
  });

  it('refuses a key whose parent is another key (a file cannot also be a directory)', async () => {
    const store = await openFileStore();
    await store.put('p', 'file');
    await expect(store.put('p/child', 'x')).rejects.toThrow(/clashes with another key/);
    expect(await store.get('p/child')).toBeNull();
  });
});

describe('file store: keys map to paths safely', () => {
  it('every accepted key resolves strictly inside the root; everything else is InvalidKeyError', () => {
    const store = new FileObjectStore('/tmp/charrnn-root');
    const segment = fc.oneof(fc.constantFrom('..', '.', '', 'a', '\0', '\\', 'ü', '.charrnn-tmp', '/'), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (parts) => {
        const key = parts.join('/');
        let file: string;
        try {
          file = store.pathFor(key);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidKeyError);
          return;
        }
        expect(file.startsWith(store.root + path.sep)).toBe(true);
        expect(path.relative(store.root, file).split(path.sep)).not.toContain('..');
        expect(file).toBe(path.join(store.root, ...key.split('/')));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('store URLs', () => {
  it('resolves file store roots', () => {
    expect(fileStoreRoot(undefined, '/srv/app')).toBe('/srv/app/.charrnn');
    expect(fileStoreRoot('', '/srv/app')).toBe('/srv/app/.charrnn');
    expect(fileStoreRoot('file:///var/lib/charrnn', '/srv/app')).toBe('/var/lib/charrnn');
    expect(fileStoreRoot('file://data/runs', '/srv/app')).toBe('/srv/app/data/runs');
    expect(() => fileStoreRoot('file://', '/srv/app')).toThrow(StoreConfigError);
  });

  it('opens the backend the URL names, and explains a bad one', () => {
    expect(openObjectStore('file:///tmp/charrnn-x')).toBeInstanceOf(FileObjectStore);
    const s3 = openObjectStore('s3://my-bucket/some/prefix/');
    expect(s3.url).toBe('s3://my-bucket/some/prefix/');
    expect(openObjectStore('s3://my-bucket').url).toBe('s3://my-bucket/');
    expect(() => openObjectStore('gs://bucket')).toThrow(/CHARRNN_STORE must be/);
    expect(() => openObjectStore('s3://Bad_Bucket/x')).toThrow(StoreConfigError);
    expect(() => openObjectStore('s3://bucket/../x')).toThrow(StoreConfigError);
  });
});
