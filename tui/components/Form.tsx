// A keyboard form: text fields (ink-text-input) and choice fields (←/→), one focused at a time,
// each with an optional hint and an error shown next to it.
import { Box, Text } from 'ink';
import TextInput from 'ink-text-input';

export type FieldSpec =
  | { kind: 'text'; key: string; label: string; placeholder?: string; hint?: string }
  /** A choice's hint may depend on the chosen option (what that option means). */
  | { kind: 'choice'; key: string; label: string; options: readonly string[]; hint?: string | ((value: string) => string) };

export interface FormProps {
  fields: FieldSpec[];
  values: Record<string, string>;
  errors: Record<string, string | undefined>;
  focus: number;
  onChange: (key: string, value: string) => void;
  onSubmit: () => void;
  /** False while something else owns the keyboard (help overlay, a request in flight). */
  active: boolean;
  labelWidth?: number;
  /** Show at most this many rows, scrolled to keep the focused field visible. */
  maxRows?: number;
}

export function Form({ fields, values, errors, focus, onChange, onSubmit, active, labelWidth = 16, maxRows }: FormProps) {
  const rows = maxRows && maxRows < fields.length ? maxRows : fields.length;
  const start = Math.max(0, Math.min(focus - Math.floor(rows / 2), fields.length - rows));
  return (
    <Box flexDirection="column">
      {start > 0 ? <Text dimColor>  ↑ {start} more</Text> : null}
      {fields.slice(start, start + rows).map((f, i) => {
        const index = start + i;
        const focused = index === focus;
        const value = values[f.key] ?? '';
        const error = errors[f.key];
        const hint = typeof f.hint === 'function' ? f.hint(value) : f.hint;
        return (
          <Box key={f.key} height={1}>
            <Box flexShrink={0}>
              <Text color={focused ? 'cyan' : undefined} bold={focused}>
                {focused ? '› ' : '  '}
                {f.label.padEnd(labelWidth)}
              </Text>
            </Box>
            {f.kind === 'text' ? (
              <Box minWidth={18} flexShrink={0}>
                {focused && active ? (
                  <TextInput value={value} onChange={(v) => onChange(f.key, v)} onSubmit={onSubmit} placeholder={f.placeholder} />
                ) : (
                  <Text dimColor={!value}>{value || f.placeholder || ''}</Text>
                )}
              </Box>
            ) : (
              <Text wrap="truncate-end">
                {focused ? <Text color="cyan">◂ </Text> : '  '}
                {f.options.map((o) => (
                  // Brackets as well as inverse: the choice stays readable without colour.
                  <Text key={o} inverse={o === value} bold={o === value} dimColor={o !== value}>
                    {o === value ? `[${o}]` : ` ${o} `}
                  </Text>
                ))}
                {focused ? <Text color="cyan"> ▸</Text> : ''}
              </Text>
            )}
            {error ? (
              <Text color="red" wrap="truncate-end">
                {'  ✗ '}
                {error}
              </Text>
            ) : hint && focused ? (
              <Text dimColor wrap="truncate-end">
                {'  '}
                {hint}
              </Text>
            ) : null}
          </Box>
        );
      })}
      {start + rows < fields.length ? <Text dimColor>  ↓ {fields.length - start - rows} more</Text> : null}
    </Box>
  );
}

/** Shared keyboard handling for a Form: returns true when it consumed the key. */
export function formKey(
  fields: FieldSpec[],
  focus: number,
  setFocus: (update: (current: number) => number) => void,
  values: Record<string, string>,
  onChange: (key: string, value: string) => void,
  input: string,
  key: { tab: boolean; shift: boolean; upArrow: boolean; downArrow: boolean; leftArrow: boolean; rightArrow: boolean },
): boolean {
  const n = fields.length;
  // Functional updates: two quick Tabs must move two fields even before a re-render.
  if ((key.tab && !key.shift) || key.downArrow) {
    setFocus((f) => (Math.min(f, n - 1) + 1) % n);
    return true;
  }
  if ((key.tab && key.shift) || key.upArrow) {
    setFocus((f) => (Math.min(f, n - 1) - 1 + n) % n);
    return true;
  }
  const f = fields[focus];
  if (f?.kind === 'choice' && (key.leftArrow || key.rightArrow || input === ' ')) {
    const i = f.options.indexOf(values[f.key] ?? f.options[0]);
    const step = key.leftArrow ? -1 : 1;
    onChange(f.key, f.options[(i + step + f.options.length) % f.options.length]);
    return true;
  }
  return false;
}
