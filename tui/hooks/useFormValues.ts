// Form values kept in state for rendering and in a ref updated on every change, so a submit
// that arrives in the same input chunk as the last keystrokes (a paste ending in Enter) reads
// what was typed rather than the previous render's values.
import { useCallback, useRef, useState } from 'react';

export function useFormValues(initial: Record<string, string>) {
  const [values, setValues] = useState(initial);
  const latest = useRef(initial);
  const setValue = useCallback((key: string, value: string) => {
    latest.current = { ...latest.current, [key]: value };
    setValues(latest.current);
  }, []);
  return { values, setValue, latest };
}
