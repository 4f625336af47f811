#!/usr/bin/env node
// The `charrnn` command: registers tsx so the TypeScript CLI runs from source, then runs it.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../cli.ts');
const code = await runCli(process.argv);
// tfjs and open sockets may keep the loop alive; the command is done.
process.exit(code);
