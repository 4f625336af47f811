// What every screen gets from the app shell: the API, navigation, the footer and status line.
import { createContext, useContext, useEffect } from 'react';
import type { Api } from './api.ts';
import type { ScreenName } from './keys.ts';
import type { RunSessions } from './run-session.ts';

export type Route = { name: 'runs' } | { name: 'new' } | { name: 'run'; runId: string } | { name: 'generate'; runId: string };

export type Tone = 'info' | 'error' | 'success';

export interface Ui {
  api: Api;
  sessions: RunSessions;
  /** Directory where `w` saves generations. */
  saveDir: string;
  navigate: (route: Route) => void;
  /** Screens get input only while this is true (false under the help overlay). */
  active: boolean;
  /** Show a one-line message under the screen (null clears it). */
  notify: (text: string | null, tone?: Tone) => void;
  setFooter: (screen: ScreenName, ids: string[], typing: boolean) => void;
  quit: () => void;
  /** The server's tfjs backend from /healthz (null until known). */
  serverBackend: string | null;
  columns: number;
  /** Rows available to the screen body. */
  bodyRows: number;
}

export const UiContext = createContext<Ui | null>(null);

export function useUi(): Ui {
  const ui = useContext(UiContext);
  if (!ui) throw new Error('useUi outside <App>');
  return ui;
}

/** Declare which keys the footer shows; `typing` hides letter shortcuts a text field swallows. */
export function useFooter(screen: ScreenName, ids: string[], typing = false): void {
  const { setFooter } = useUi();
  const key = ids.join(',');
  useEffect(() => {
    setFooter(screen, ids, typing);
    // ids by value (their joined key), not by the array's identity
  }, [screen, key, typing, setFooter]);
}
