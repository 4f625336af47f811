// The real thing in a real terminal: `node tui/bin/charrnn-tui.js` in a tmux pane (120×40) on the
// embedded server with a temp store; create a run, train it and watch the chart move, generate
// streamed text, quit. Keys go in with send-keys; assertions read capture-pane.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SOCKET = `charrnn-tui-e2e-${process.pid}`;
const SESSION = 'e2e';
let dir = '';

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-u', '-L', SOCKET, ...args], { encoding: 'utf8', env: { ...process.env, LANG: 'C.UTF-8' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

const capture = () => tmux('capture-pane', '-p', '-t', SESSION);
const keys = (...k: string[]) => tmux('send-keys', '-t', SESSION, ...k);
const type = (text: string) => tmux('send-keys', '-t', SESSION, '-l', text);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(test: (screen: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const screen = capture();
    if (test(screen)) return screen;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the pane shows:\n${screen}`);
    await sleep(150);
  }
}
const waitForText = (text: string | RegExp, timeoutMs?: number) =>
  waitFor((s) => (typeof text === 'string' ? s.includes(text) : text.test(s)), String(text), timeoutMs);

const stepOf = (screen: string) => Number(/step (\d+) · epoch/.exec(screen)?.[1] ?? -1);
const chartOf = (screen: string) => screen.split('\n').filter((l) => /\d\.\d\d [┤┼]/.test(l)).join('\n');

beforeAll(async () => {
  const probe = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('tmux is not installed: this test needs it (apt-get install tmux; .ci/run installs it)');
  }
  dir = await mkdtemp(join(tmpdir(), 'charrnn-tui-e2e-'));
  // A clean environment: CI=… would make Ink print only the final frame.
  const env = `env -i PATH=${JSON.stringify(process.env.PATH ?? '')} HOME=${JSON.stringify(dir)} TERM=xterm-256color`;
  const cmd = `${env} node ${JSON.stringify(join(ROOT, 'tui/bin/charrnn-tui.js'))} --slice-seconds 3; echo "charrnn-tui exited with $?"; sleep 120`;
  tmux('new-session', '-d', '-x', '120', '-y', '40', '-s', SESSION, '-c', dir, cmd);
});

afterAll(async () => {
  spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('charrnn-tui in tmux', () => {
  it('creates a run, trains it with a moving loss chart, streams a generation, and quits', async () => {
    let screen = await waitForText('No runs yet', 60_000);
    expect(screen).toMatch(/charrnn Runs/);
    expect(screen).toMatch(/embedded .*\.charrnn/);
    expect(screen).toMatch(/n new run\s+r refresh\s+\? help\s+q quit/);

    keys('n');
    await waitForText('Corpus');
    keys('Right'); // moby-dick → names
    await waitFor((s) => /Corpus\s+◂  moby-dick \[names\]/.test(s), 'names selected');
    keys('Tab');
    await waitFor((s) => /› Run id/.test(s), 'Run id focused');
    type('e2e');
    keys('Tab', 'Tab');
    await waitFor((s) => /› Size/.test(s), 'Size focused');
    keys('Left'); // small → tiny
    await waitFor((s) => /Size\s+◂ \[tiny\]/.test(s), 'tiny selected');
    keys('Enter');
    screen = await waitForText('Run › e2e');
    expect(screen).toContain('No metrics yet');

    keys('t');
    await waitForText('Epochs to train');
    keys('Enter');
    screen = await waitFor((s) => s.includes('● training') && stepOf(s) > 0 && chartOf(s).length > 0, 'training with a chart', 60_000);
    const firstStep = stepOf(screen);
    const firstChart = chartOf(screen);
    screen = await waitFor((s) => stepOf(s) > firstStep + 5 && chartOf(s) !== firstChart, 'the chart to move', 60_000);
    expect(screen).toMatch(/chars\/s · backend \w+/);
    expect(screen).toMatch(/█+░*/);

    keys('s');
    await waitForText('stopping after this slice');
    screen = await waitForText('○ idle', 60_000);
    expect(stepOf(screen)).toBeGreaterThan(firstStep);

    keys('g');
    await waitForText('press Enter to generate');
    keys('Tab', 'Tab', 'Tab', 'Tab');
    await waitFor((s) => /› Length/.test(s), 'Length focused');
    keys('BSpace', 'BSpace', 'BSpace');
    type('600');
    keys('Enter');
    screen = await waitFor((s) => /#1 · T=0\.8 .*600 chars .*step \d+/.test(s), 'the generation to finish', 60_000);
    const output = screen.split('\n');
    const header = output.findIndex((l) => l.includes('#1 · T=0.8'));
    const text = output.slice(header + 1, header + 8).join('').trim();
    expect(text.length).toBeGreaterThan(100);

    keys('Escape');
    await waitForText('Run › e2e');
    keys('q');
    screen = await waitForText('charrnn-tui exited with 0', 30_000);
  });
});
