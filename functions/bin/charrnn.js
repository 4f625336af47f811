#!/usr/bin/env node
// The `charrnn` command from source: the TypeScript CLI through a cached esbuild bundle
// (from-source.mjs says why not tsx), then its exit code.
import { importSource } from './from-source.mjs';

const { runCli } = await importSource('functions/cli.ts');
// tfjs and open sockets may keep the loop alive; the command is done.
process.exit(await runCli(process.argv));
