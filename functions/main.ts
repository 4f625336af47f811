// Container entry point: PORT (default 8080), HOST (default 0.0.0.0), and the CHARRNN_* settings (settings.ts), read once here.
// The tfjs backend is initialised at startup, while /healthz answers 503: when it cannot be
// (CHARRNN_BACKEND or CHARRNN_REQUIRE_GPU not met), the process exits 1 with the loaders' own text.
// SIGTERM/SIGINT: stop accepting, let training slices checkpoint and release their leases, exit 0
// within the grace period (CHARRNN_SHUTDOWN_GRACE_SECONDS, default 10; Cloud Run gives 10 s).
import { readSettings } from './settings.ts';
import { startServer } from './server.ts';

async function main() {
  const settings = readSettings();
  const { limits } = settings;
  const port = Number(process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${process.env.PORT}"`);
  const server = await startServer({ port, host: process.env.HOST ?? '0.0.0.0', settings });
  console.error(`[charrnn] listening on ${server.url} (store ${settings.store.url ?? 'file ./.charrnn'}, auth ${settings.token ? 'on' : 'off'})`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`[charrnn] ${signal}: stopping`);
    const graceMs = limits.shutdownGraceSeconds * 1000;
    // Slices get most of the grace period to finish their step and commit the checkpoint; the
    // rest is for final responses. Exit before the platform's SIGKILL in any case.
    const hardExit = setTimeout(() => process.exit(0), Math.max(500, graceMs - 250));
    hardExit.unref();
    server.close(Math.max(0, graceMs - 3000)).then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`[charrnn] shutdown: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(0);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  console.error(`[charrnn] ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
