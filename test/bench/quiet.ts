// Silences one known warning flood while the tfjs backend is chosen.

/** Run fn with tfjs's "kernel … is already registered" warnings dropped (probing the optional native
 * packages registers their kernels twice when they fail to load; hundreds of lines of noise). */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!(typeof args[0] === 'string' && args[0].includes('is already registered'))) warn(...args);
  };
  try {
    return await fn();
  } finally {
    console.warn = warn;
  }
}
