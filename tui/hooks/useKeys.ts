// useInput that always calls the handler from the latest render. Ink re-subscribes a changed
// handler in an effect, so a key arriving between a render and that effect would otherwise
// see the previous render's state (e.g. move the wrong field).
import { useRef } from 'react';
import { useInput, type Key } from 'ink';

export function useKeys(handler: (input: string, key: Key) => void, opts: { isActive?: boolean } = {}): void {
  const latest = useRef(handler);
  latest.current = handler;
  useInput((input, key) => latest.current(input, key), opts);
}
