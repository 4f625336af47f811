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

describe('bearerAuth: what a client is told', () => {
  // Built inside each test, not once at load: StrykerJS credits a mutant only to the tests that
  // ran it, so a default argument evaluated outside them would go unseen.
  const guarded = () => new Hono().use('*', bearerAuth(TOKEN)).get('/healthz', (c) => c.text('alive')).get('/runs', (c) => c.text('ok'));

  it('leaves the open paths (by default /healthz) open and guards the rest', async () => {
    const open = guarded();
    expect(await (await open.request('/healthz')).text()).toBe('alive');
    expect((await open.request('/runs')).status).toBe(401);
    const custom = new Hono().use('*', bearerAuth(TOKEN, ['/runs'])).get('/healthz', (c) => c.text('alive')).get('/runs', (c) => c.text('ok'));
    expect((await custom.request('/runs')).status).toBe(200);
    expect((await custom.request('/healthz')).status).toBe(401);
  });

  it('no token configured: every path is open', async () => {
    const none = new Hono().use('*', bearerAuth(undefined)).get('/runs', (c) => c.text('ok'));
    expect((await none.request('/runs')).status).toBe(200);
  });

  it('a missing header: 401, WWW-Authenticate: Bearer, and which header to send', async () => {
    const res = await guarded().request('/runs');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'missing bearer token: send Authorization: Bearer <CHARRNN_API_TOKEN>' } });
  });

  it('a wrong token: 401 with invalid_token, and says so', async () => {
    const res = await ask('Bearer nope');
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'invalid bearer token' } });
  });

  it.each([
    ['the scheme in any case, spaces around the token', `bearer   ${TOKEN}  `, 200],
    ['the scheme not at the start', `X Bearer ${TOKEN}`, 401],
    ['the scheme glued to the token', `Bearer${TOKEN}`, 401],
  ])('%s', async (_what, header, status) => {
    expect((await ask(header)).status).toBe(status);
  });
});
