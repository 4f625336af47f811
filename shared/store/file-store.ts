// ObjectStore on a local directory: the embedded default (CHARRNN_STORE unset → ./.charrnn).
//
// Writes are atomic: the bytes go to a temp file under <root>/.charrnn-tmp/, are fsynced, and
// are renamed over the key's path; then the directory is fsynced. Readers see the old object or
// the new one, never a torn one.
// ETag = sha-256 of the content, so it is stable per content and identical between get, head
// and list. Hashing costs ~30 ms per 64 MB here; head/list cache it per file (see etagFor).
// Conditional writes:
//  - ifNoneMatch '*': the temp file is hard-linked to the key's path; link() fails with EEXIST
//    when the key exists, atomically, and the object appears complete (an exclusive `wx` open
//    would expose an empty file while it is being written).
//  - ifMatch (put and delete): compare-then-rename under a per-key lock file created with `wx`
//    in <root>/.charrnn-locks/. This is correct between processes on ONE host sharing the
//    directory; it is not a distributed lock (no NFS guarantees). Use S3 for several hosts.
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LRUCache } from 'lru-cache';
import { compareKeys, RESERVED_PREFIX, validateDirPrefix, validateKey, validatePrefix } from './keys.ts';
import {
  InvalidKeyError,
  PreconditionFailedError,
  StoreConfigError,
  StoreUnavailableError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
} from './types.ts';

const TMP_DIR = `${RESERVED_PREFIX}tmp`;
const LOCK_DIR = `${RESERVED_PREFIX}locks`;
/** A lock file older than this was left by a crashed process (the critical section takes ms). */
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 15_000;
/** link() errors meaning "no hard links here" (some network and FUSE file systems). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);
/** Temp files older than this were left by a crashed writer; the first write of a process sweeps them. */
const TMP_STALE_MS = 60 * 60 * 1000;
/** A file's cached hash is trusted only if its mtime is older than this (see etagFor). */
const RACY_MS = 2_000;

/** Resolves CHARRNN_STORE-style file URLs: unset → ./.charrnn, file:///abs, file://rel. */
export function fileStoreRoot(url: string | undefined, cwd = process.cwd()): string {
  if (url === undefined || url === '') return path.resolve(cwd, '.charrnn');
  if (!url.startsWith('file:')) throw new StoreConfigError(`not a file store URL: ${url}`);
  if (url.startsWith('file:///')) {
    try {
      return fileURLToPath(url);
    } catch (err) {
      throw new StoreConfigError(`bad file store URL ${url}: ${(err as Error).message}`);
    }
  }
  const rest = decodeURIComponent(url.startsWith('file://') ? url.slice('file://'.length) : url.slice('file:'.length));
  if (rest === '') throw new StoreConfigError(`file store URL ${url} names no directory; use file:///abs/path or file://relative/path`);
  return path.resolve(cwd, rest);
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class FileObjectStore implements ObjectStore {
  readonly url: string;
  readonly root: string;
  private readonly etags = new LRUCache<string, { stamp: string; etag: string }>({ max: 10_000 });
  private swept = false;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.url = pathToFileURL(this.root).href;
  }

  static fromUrl(url?: string): FileObjectStore {
    return new FileObjectStore(fileStoreRoot(url));
  }

  /** The key's file path; every segment is validated and the result must stay under root. */
  pathFor(key: string): string {
    validateKey(key);
    const file = path.resolve(this.root, ...key.split('/'));
    // Also catches what validateKey cannot know about the platform, e.g. a 'C:' segment on Windows.
    if (!file.startsWith(this.root.endsWith(path.sep) ? this.root : this.root + path.sep)) throw new InvalidKeyError(`object key ${JSON.stringify(key)} resolves outside the store`);
    return file;
  }

  async put(key: string, body: Uint8Array | string, opts: PutOptions = {}): Promise<{ etag: string }> {
    const file = this.pathFor(key);
    const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const etag = sha256(data);
    const tmp = await this.writeTemp(key, data);
    try {
      if (opts.ifNoneMatch === '*') {
        await this.intoPlace(key, file, async () => {
          try {
            await link(tmp, file);
          } catch (err) {
            if (errCode(err) === 'EEXIST') throw new PreconditionFailedError(key);
            if (!NO_HARD_LINKS.has(errCode(err) ?? '')) throw err;
            // A file system without hard links: check-then-rename under the key's lock instead.
            await this.withLock(key, async () => {
              if (await this.etagFor(file)) throw new PreconditionFailedError(key);
              await rename(tmp, file);
            });
          }
        });
      } else if (opts.ifMatch !== undefined) {
        const expected = opts.ifMatch;
        await this.withLock(key, async () => {
          const current = (await this.etagFor(file))?.etag;
          if (current !== expected) throw new PreconditionFailedError(key);
          await this.intoPlace(key, file, () => rename(tmp, file));
        });
      } else {
        await this.intoPlace(key, file, () => rename(tmp, file));
      }
      await fsyncDir(path.dirname(file));
      return { etag };
    } catch (err) {
      throw this.mapError(err, 'write', key);
    } finally {
      await rm(tmp, { force: true }).catch(() => {});
    }
  }

  async get(key: string): Promise<{ body: Uint8Array; etag: string } | null> {
    const file = this.pathFor(key);
    try {
      const body = await readFile(file);
      return { body, etag: sha256(body) };
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.mapError(err, 'read', key);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const file = this.pathFor(key);
    try {
      const found = await this.etagFor(file);
      return found && { key, ...found };
    } catch (err) {
      throw this.mapError(err, 'stat', key);
    }
  }

  async listKeys(prefix: string): Promise<string[]> {
    validatePrefix(prefix);
    // Walk only the deepest directory the prefix names fully; filter the rest by string prefix.
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash < 0 ? '' : prefix.slice(0, slash);
    const keys: string[] = [];
    try {
      await this.walk(baseKey, prefix, keys);
    } catch (err) {
      throw this.mapError(err, 'list', prefix);
    }
    return keys.sort(compareKeys);
  }

  async listChildren(prefix: string): Promise<string[]> {
    validateDirPrefix(prefix);
    const dir = prefix === '' ? this.root : path.join(this.root, ...prefix.slice(0, -1).split('/'));
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      return entries
        .filter((e) => (e.isFile() || e.isDirectory()) && !(prefix === '' && e.name.startsWith(RESERVED_PREFIX)))
        .map((e) => e.name)
        .sort(compareKeys);
    } catch (err) {
      if (isMissing(err)) return [];
      throw this.mapError(err, 'list', prefix);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const keys = await this.listKeys(prefix);
    const infos: (ObjectInfo | null)[] = new Array(keys.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const i = next++;
        infos[i] = await this.head(keys[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, keys.length) }, worker));
    // A key deleted between the walk and its head is simply not listed.
    return infos.filter((info): info is ObjectInfo => info !== null);
  }

  async delete(key: string, opts: { ifMatch?: string } = {}): Promise<void> {
    const file = this.pathFor(key);
    try {
      if (opts.ifMatch !== undefined) {
        const expected = opts.ifMatch;
        await this.withLock(key, async () => {
          const current = (await this.etagFor(file))?.etag;
          // The version the caller meant is gone (deleted or replaced): that is a lost race too.
          if (current !== expected) throw new PreconditionFailedError(key);
          await unlink(file);
        });
      } else {
        await unlink(file).catch((err) => {
          if (!isMissing(err)) throw err;
        });
      }
      this.etags.delete(file);
      await this.pruneEmptyDirs(path.dirname(file));
    } catch (err) {
      throw this.mapError(err, 'delete', key);
    }
  }

  // ---- internals ----

  private async writeTemp(key: string, data: Uint8Array): Promise<string> {
    const dir = path.join(this.root, TMP_DIR);
    const tmp = path.join(dir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    try {
      await mkdir(dir, { recursive: true });
      if (!this.swept) {
        this.swept = true;
        await this.sweepTemp(dir);
      }
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      return tmp;
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw this.mapError(err, 'write', key);
    }
  }

  private async sweepTemp(dir: string): Promise<void> {
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      names.map(async (name) => {
        const file = path.join(dir, name);
        const st = await stat(file).catch(() => null);
        if (st && Date.now() - st.mtimeMs > TMP_STALE_MS) await rm(file, { force: true }).catch(() => {});
      }),
    );
  }

  /** Runs `place` (a rename or link into `file`), creating parent dirs; retried if a concurrent delete pruned them. */
  private async intoPlace(key: string, file: string, place: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(path.dirname(file), { recursive: true });
      } catch (err) {
        if (errCode(err) === 'EEXIST' || errCode(err) === 'ENOTDIR') throw this.dirConflict(key);
        throw err;
      }
      try {
        await place();
        this.etags.delete(file);
        return;
      } catch (err) {
        if (errCode(err) === 'ENOENT' && attempt < 3) continue;
        if (errCode(err) === 'EISDIR' || errCode(err) === 'ENOTDIR') throw this.dirConflict(key);
        throw err;
      }
    }
  }

  private dirConflict(key: string): InvalidKeyError {
    return new InvalidKeyError(`object key ${JSON.stringify(key)} clashes with another key used as its directory (the file store cannot hold both 'a' and 'a/b')`);
  }

  /**
   * The content hash and size of `file`, or null if it does not exist. Cached by (inode, size, mtime,
   * ctime), but only for files last modified more than RACY_MS ago: a rewrite within the file
   * system's timestamp granularity could otherwise reuse all four (git's "racily clean" rule).
   */
  private async etagFor(file: string): Promise<{ etag: string; size: number } | null> {
    let fh;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    try {
      // stat and hash the same open file, so a concurrent rename cannot pair one file's stamp with another's hash
      const st = await fh.stat();
      if (!st.isFile()) return null;
      const stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      const cached = this.etags.get(file);
      if (cached && cached.stamp === stamp) return { etag: cached.etag, size: st.size };
      const hash = createHash('sha256');
      for await (const chunk of fh.createReadStream({ autoClose: false, start: 0 })) hash.update(chunk as Buffer);
      const etag = hash.digest('hex');
      if (Date.now() - Math.max(st.mtimeMs, st.ctimeMs) > RACY_MS) this.etags.set(file, { stamp, etag });
      return { etag, size: st.size };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    } finally {
      await fh.close();
    }
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const dir = path.join(this.root, LOCK_DIR);
    const lock = path.join(dir, `${createHash('sha256').update(key).digest('hex')}.lock`);
    await mkdir(dir, { recursive: true });
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const fh = await open(lock, 'wx');
        await fh.writeFile(`${process.pid} ${new Date().toISOString()}\n`).finally(() => fh.close());
        break;
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw err;
        const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age > LOCK_STALE_MS) {
          await unlink(lock).catch(() => {});
          continue;
        }
        if (Date.now() > deadline) throw new StoreUnavailableError(`file store ${this.url}: lock for ${key} held for over ${LOCK_WAIT_MS / 1000}s (${lock})`);
        await sleep(2 + Math.random() * 10);
      }
    }
    try {
      return await fn();
    } finally {
      await unlink(lock).catch(() => {});
    }
  }

  private async walk(dirKey: string, prefix: string, out: string[]): Promise<void> {
    const dir = dirKey === '' ? this.root : path.join(this.root, ...dirKey.split('/'));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    await Promise.all(
      entries.map(async (entry) => {
        if (dirKey === '' && entry.name.startsWith(RESERVED_PREFIX)) return;
        const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
        if (entry.isDirectory()) {
          const asDir = `${key}/`;
          if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) await this.walk(key, prefix, out);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          out.push(key);
        }
      }),
    );
  }

  /** Removes directories emptied by a delete, up to (not including) the root. */
  private async pruneEmptyDirs(dir: string): Promise<void> {
    while (dir.startsWith(this.root + path.sep)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty (or gone): stop
      }
      dir = path.dirname(dir);
    }
  }

  private mapError(err: unknown, op: string, key: string): unknown {
    if (err instanceof PreconditionFailedError || err instanceof InvalidKeyError || err instanceof StoreUnavailableError) return err;
    const code = errCode(err);
    const detail = code ? `${code}: ${(err as Error).message}` : String((err as Error)?.message ?? err);
    return new StoreUnavailableError(`file store ${this.url}: cannot ${op} ${key} (${detail})`, err);
  }
}

function isMissing(err: unknown): boolean {
  const code = errCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename durable. Not supported on every platform (Windows): best effort there.
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort */
  }
}
