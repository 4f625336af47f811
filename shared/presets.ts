// The size presets, once: the API's enum (shared/api/schemas.ts), the engine's defaults
// (shared/engine/config.ts) and the TUI's choices read this table. No imports (no tfjs, no zod).

export const PRESETS = ['tiny', 'small', 'medium', 'large'] as const;
export type Preset = (typeof PRESETS)[number];

export const PRESET_SHAPES: Record<Preset, { layers: number; hidden: number }> = {
  tiny: { layers: 1, hidden: 64 },
  small: { layers: 1, hidden: 128 },
  medium: { layers: 2, hidden: 256 },
  large: { layers: 2, hidden: 512 },
};

export const DEFAULT_PRESET: Preset = 'small';

/** "tiny 1×64, small 1×128, …" (layers × hidden), for descriptions and hints. */
export function describePresets(separator = ', '): string {
  return PRESETS.map((p) => `${p} ${PRESET_SHAPES[p].layers}×${PRESET_SHAPES[p].hidden}`).join(separator);
}
