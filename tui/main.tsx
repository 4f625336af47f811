// charrnn-tui entry: parse flags, connect to an API (or start the functions in-process on the
// local store and connect to that over HTTP), then draw the app, or print plain lines when
// stdout is not a terminal. Quitting stops only a server this process started.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { render } from 'ink';
import { readClientSettings, readSettings } from '../functions/settings.ts';
import { Api, isAbort } from './api.ts';
import { App } from './app.tsx';
import { describeError } from './errors.ts';
import { runPlain } from './plain.ts';
import { DEFAULT_SLICE_SECONDS } from './run-session.ts';

interface Flags {
  api?: string;
  store?: string;
  run?: string;
  trainSeconds?: number;
  sample?: number;
  sliceSeconds: number;
}

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

const program = new Command('charrnn-tui')
  .description('Terminal UI for charrnn: create runs, train them and watch the loss, stream generated text.')
  .option('--api <url>', 'API base URL (default $CHARRNN_API_URL; without one, start an embedded server)')
  .option('--store <url>', 'store of the embedded server: a directory, file:///path or s3://bucket/prefix (default ./.charrnn)')
  .option('--run <id>', 'open this run (without a terminal: the run to show, train or sample)')
  .option('--train-seconds <n>', 'without a terminal: train --run for about N seconds, printing progress lines', positive('--train-seconds'))
  .option('--sample <length>', 'without a terminal: print a sample of this many characters from --run', positive('--sample'))
  .option('--slice-seconds <n>', 'seconds per training request (a long run is a chain of them)', positive('--slice-seconds'), DEFAULT_SLICE_SECONDS)
  .addHelpText('after', '\nEnvironment: CHARRNN_API_URL, CHARRNN_API_TOKEN (bearer token), CHARRNN_STORE (embedded store).');

async function main(): Promise<number> {
  program.parse();
  const flags = program.opts<Flags>();
  const { apiUrl, token } = readClientSettings();
  const remote = flags.api ?? apiUrl;

  let baseUrl: string;
  let apiLabel: string;
  let stopServer: (() => Promise<void>) | null = null;
  if (remote) {
    baseUrl = remote;
    apiLabel = remote;
  } else {
    // A plain directory is accepted too (the store itself wants a URL).
    const settings = readSettings();
    const given = flags.store ?? (settings.store.url || undefined);
    const storeUrl = given && given.includes('://') ? given : pathToFileURL(resolve(given ?? '.charrnn')).href;
    // Loaded only in embedded mode: the UI itself never imports the engine.
    const { startServer } = await import('../functions/server.ts');
    const logLines: string[] = [];
    const server = await startServer({
      port: 0,
      host: '127.0.0.1',
      settings,
      storeUrl,
      ...(token ? { token } : { token: '' }),
      // The screen draws at once; the header shows the backend when it is ready.
      backendInit: 'background',
      // Server log lines would tear the drawn screen; keep the latest few in memory.
      log: (msg) => {
        logLines.push(msg);
        if (logLines.length > 200) logLines.shift();
      },
    });
    baseUrl = server.url;
    apiLabel = `embedded ${storeUrl.replace(/^file:\/\//, '')}`;
    stopServer = () => server.close();
  }
  const api = new Api(baseUrl, { token });

  const interactive = process.stdout.isTTY && process.stdin.isTTY;
  try {
    if (!interactive) {
      const ctrl = new AbortController();
      process.once('SIGINT', () => ctrl.abort());
      try {
        return await runPlain(api, {
          run: flags.run,
          trainSeconds: flags.trainSeconds,
          sample: flags.sample,
          sliceSeconds: flags.sliceSeconds,
          out: (line) => process.stdout.write(line + '\n'),
          write: (text) => process.stdout.write(text),
          signal: ctrl.signal,
        });
      } catch (err) {
        // Ctrl+C: the usual exit status, no message.
        if (ctrl.signal.aborted && isAbort(err)) return 130;
        throw err;
      }
    }
    let wasTraining = false;
    const app = render(
      <App
        api={api}
        apiLabel={apiLabel}
        sliceSeconds={flags.sliceSeconds}
        initialRoute={flags.run ? { name: 'run', runId: flags.run } : undefined}
        onQuit={(training) => (wasTraining = training)}
      />,
      // Ctrl+C is handled by the app so that it can stop streams first.
      // Redraw at most 20 times a second. Not incrementalRendering: in Ink 6.8 it leaves the first
      // frame's header and footer on screen (seen in tmux).
      { exitOnCtrlC: false, maxFps: 20, incrementalRendering: false },
    );
    await app.waitUntilExit();
    if (wasTraining) {
      process.stdout.write(
        stopServer
          ? 'Stopping the embedded server: the training slice in progress checkpoints first…\n'
          : 'The server finishes the training slice in progress and checkpoints it.\n',
      );
    }
    return 0;
  } finally {
    await stopServer?.();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`charrnn-tui: ${describeError(err)}\n`);
    process.exit(1);
  },
);
