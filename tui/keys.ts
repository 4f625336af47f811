// Every key the app understands, per screen: the footer and the help overlay both read this,
// so what is shown is what works.
export interface KeyBinding {
  id: string;
  keys: string;
  label: string;
}

export type ScreenName = 'runs' | 'new' | 'run' | 'generate';

export const SCREEN_TITLES: Record<ScreenName, string> = {
  runs: 'Runs',
  new: 'New run',
  run: 'Run',
  generate: 'Generate',
};

export const GLOBAL_KEYS: KeyBinding[] = [
  { id: 'help', keys: '?', label: 'help' },
  { id: 'quit', keys: 'q', label: 'quit' },
  { id: 'ctrlc', keys: 'Ctrl+C', label: 'quit (even typing)' },
];

export const SCREEN_KEYS: Record<ScreenName, KeyBinding[]> = {
  runs: [
    { id: 'move', keys: '↑↓/jk', label: 'select' },
    { id: 'open', keys: 'Enter', label: 'open' },
    { id: 'new', keys: 'n', label: 'new run' },
    { id: 'delete', keys: 'd', label: 'delete' },
    { id: 'refresh', keys: 'r', label: 'refresh' },
    { id: 'ends', keys: 'g/G', label: 'first/last' },
    { id: 'yes', keys: 'y', label: 'confirm delete' },
    { id: 'no', keys: 'n/Esc', label: 'keep' },
  ],
  new: [
    { id: 'field', keys: 'Tab/↑↓', label: 'field' },
    { id: 'choose', keys: '←→', label: 'change choice' },
    { id: 'create', keys: 'Enter', label: 'create' },
    { id: 'back', keys: 'Esc', label: 'back' },
  ],
  run: [
    { id: 'train', keys: 't', label: 'train' },
    { id: 'stop', keys: 's', label: 'stop after this slice' },
    { id: 'unwatch', keys: 's', label: 'stop watching' },
    { id: 'samples', keys: '←→', label: 'earlier/later sample' },
    { id: 'generate', keys: 'g', label: 'generate' },
    { id: 'refresh', keys: 'r', label: 'refresh' },
    { id: 'back', keys: 'Esc', label: 'back' },
  ],
  generate: [
    { id: 'field', keys: 'Tab/↑↓', label: 'field' },
    { id: 'choose', keys: '←→', label: 'checkpoint' },
    { id: 'generate', keys: 'Enter', label: 'generate' },
    { id: 'stop', keys: 'Esc', label: 'stop / back' },
    { id: 'save', keys: 'w', label: 'save to file' },
    { id: 'scroll', keys: 'PgUp/Dn/jk', label: 'scroll output' },
    { id: 'ends', keys: 'g/G', label: 'oldest/newest' },
  ],
};

/** The subset of a screen's keys (plus the globals) to show in the footer right now. */
export function footerKeys(screen: ScreenName, ids: string[], typing: boolean): KeyBinding[] {
  const own = SCREEN_KEYS[screen].filter((k) => ids.includes(k.id));
  const globals = typing ? GLOBAL_KEYS.filter((k) => k.id === 'ctrlc') : GLOBAL_KEYS.filter((k) => k.id !== 'ctrlc');
  return [...own, ...globals];
}
