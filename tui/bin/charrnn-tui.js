#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx's loader. The package's tsconfig is named
// explicitly: tsx would otherwise look for one from the current directory, and without it would
// compile JSX for the classic runtime.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

register({ tsconfig: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)) });
await import('../main.tsx');
