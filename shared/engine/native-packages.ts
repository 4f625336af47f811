// Whether the optional tfjs-node packages could load, found from the file system without loading
// them (or tfjs): the backend's loader checks before importing, and a server plans its threads
// before its tfjs is up.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Why a tfjs-node package cannot load, checked before importing it; null when it is installed with
 * its native addon. npm installs the optional packages even when their install script cannot
 * download libtensorflow; importing one of those registers ~150 kernels and then throws.
 */
export function nativeAddonMissing(pkg: string): string | null {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch (e) {
    return e instanceof Error ? e.message.split('\n')[0] : String(e);
  }
  const lib = join(dir, 'lib');
  const found = existsSync(lib) && readdirSync(lib).some((d) => d.startsWith('napi-v') && existsSync(join(lib, d, 'tfjs_binding.node')));
  return found ? null : `installed without its native addon (no ${join(lib, 'napi-v*', 'tfjs_binding.node')}): its install could not download libtensorflow`;
}

/** Whether a tfjs-node package is installed with its native addon. */
export function nativeAddonPresent(pkg: string): boolean {
  return nativeAddonMissing(pkg) === null;
}
