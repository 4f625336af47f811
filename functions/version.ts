// The package version, inlined by esbuild in the bundle and read from package.json under tsx.
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
