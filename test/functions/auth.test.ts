// The bearer check compares equal-length SHA-256 digests with crypto.timingSafeEqual, whatever the
// presented token: watched at the primitive (a spy on node:crypto), so a plain `===` or a compare
// of the raw strings (whose time and length leak) fails here. security.test.ts covers the 401s
// over a real socket.
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => [] as [Buffer, Buffer][]);
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.push([Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)]);
      return real.timingSafeEqual(a, b);
    },
  };
});

const { bearerAuth } = await import('../../functions/middleware/auth.ts');
const TOKEN = 'secret-token-1234';
const app = new Hono().use('*', bearerAuth(TOKEN)).get('/runs', (c) => c.text('ok'));
const ask = (header: string) => app.request('/runs', { headers: { authorization: header } });
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

beforeEach(() => {
  calls.length = 0;
});

describe('bearerAuth', () => {
  it.each([
    ['the token', TOKEN, 200],
    ['a wrong token of the same length', `${TOKEN.slice(0, -1)}x`, 401],
    ['a prefix of the token', TOKEN.slice(0, 3), 401],
    ['the token and more', `${TOKEN}${'y'.repeat(10_000)}`, 401],
  ])('%s: one constant-time compare of two 32-byte digests', async (_what, presented, status) => {
    expect((await ask(`Bearer ${presented}`)).status).toBe(status);
    expect(calls).toHaveLength(1);
    const [given, expected] = calls[0];
    expect([given.length, expected.length]).toEqual([32, 32]);
    expect(given.equals(sha256(presented))).toBe(true);
    expect(expected.equals(sha256(TOKEN))).toBe(true);
  });

  it('no bearer header: 401 without comparing anything', async () => {
    expect((await ask(`Basic ${TOKEN}`)).status).toBe(401);
    expect(calls).toHaveLength(0);
  });
});
