// What a run id is, once: the API's schema, the store's keys, the server's id from a name, the
// CLI's --run and (through the server) the TUI's name field all use these. No imports, so the
// TUI, the CLI and the store can load it without tfjs or zod.

/** Longest run id: it becomes one key segment (S3, file systems) and a URL path segment. */
export const RUN_ID_MAX = 64;

/** Lowercase letters, digits, '-', '_', '.', not starting with '.'; no slashes. */
export const RUN_ID_PATTERN = /^[a-z0-9_-][a-z0-9._-]*$/;

/** The rule in words, for error messages. */
export const RUN_ID_RULE = `use 1-${RUN_ID_MAX} lowercase letters, digits, ".", "_" or "-" (not starting with ".")`;

export function isRunId(value: string): boolean {
  return value.length >= 1 && value.length <= RUN_ID_MAX && RUN_ID_PATTERN.test(value);
}

/**
 * A run id from a free-form name: lowercase, accents stripped (NFKD, so "Café" → "cafe"), every
 * other run of characters outside the id alphabet becomes one '-'. '' when nothing usable is left.
 */
export function runIdFromName(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[.-]+|-+$/g, '')
    .slice(0, RUN_ID_MAX)
    .replace(/[.-]+$/g, '');
}
