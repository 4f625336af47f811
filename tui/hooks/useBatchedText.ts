// Collects streamed characters in a buffer and publishes them at a bounded rate, so a fast
// stream costs at most `fps` re-renders a second instead of one per chunk (no flicker).
import { useCallback, useEffect, useRef, useState } from 'react';

export function useBatchedText(fps = 20): {
  text: string;
  append: (chunk: string) => void;
  flush: () => void;
  reset: () => void;
} {
  const [text, setText] = useState('');
  const pending = useRef('');
  const timer = useRef<NodeJS.Timeout | null>(null);

  const flush = useCallback(() => {
    if (timer.current) {
      clearTimeout(timer.current);
      timer.current = null;
    }
    if (!pending.current) return;
    const chunk = pending.current;
    pending.current = '';
    setText((t) => t + chunk);
  }, []);

  const append = useCallback(
    (chunk: string) => {
      pending.current += chunk;
      if (!timer.current) timer.current = setTimeout(flush, Math.round(1000 / fps));
    },
    [flush, fps],
  );

  const reset = useCallback(() => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    pending.current = '';
    setText('');
  }, []);

  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);

  return { text, append, flush, reset };
}
