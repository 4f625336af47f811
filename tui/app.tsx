// The app shell: header, the current screen, a status line and a footer of the keys that work,
// the help overlay, and quitting cleanly (streams aborted, sessions stopped).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Box, Text, useApp } from 'ink';
import type { Api, HealthInfo } from './api.ts';
import { describeError } from './errors.ts';
import { footerKeys, GLOBAL_KEYS, SCREEN_KEYS, SCREEN_TITLES, type KeyBinding, type ScreenName } from './keys.ts';
import { UiContext, type Route, type Tone, type Ui } from './context.ts';
import { RunSessions } from './run-session.ts';
import { useTerminalSize } from './hooks/useTerminalSize.ts';
import { useKeys } from './hooks/useKeys.ts';
import { RunsScreen } from './screens/RunsScreen.tsx';
import { NewRunScreen } from './screens/NewRunScreen.tsx';
import { RunScreen } from './screens/RunScreen.tsx';
import { GenerateScreen } from './screens/GenerateScreen.tsx';

export interface AppProps {
  api: Api;
  /** Where the API is, for the header: a URL or "embedded …". */
  apiLabel: string;
  sessions?: RunSessions;
  /** Seconds per training slice (one bounded request). */
  sliceSeconds?: number;
  saveDir?: string;
  initialRoute?: Route;
  /** Called once when the app decides to quit (before Ink unmounts); says whether it was training. */
  onQuit?: (wasTraining: boolean) => void;
}

export function App({ api, apiLabel, sessions: given, sliceSeconds, saveDir, initialRoute, onQuit }: AppProps) {
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const sessions = useMemo(() => given ?? new RunSessions(api, { sliceSeconds }), [given, api, sliceSeconds]);
  const [route, setRoute] = useState<Route>(initialRoute ?? { name: 'runs' });
  const [help, setHelp] = useState(false);
  const [status, setStatus] = useState<{ text: string; tone: Tone } | null>(null);
  const [footer, setFooterState] = useState<{ screen: ScreenName; ids: string[]; typing: boolean }>({
    screen: 'runs',
    ids: [],
    typing: false,
  });
  const [health, setHealth] = useState<HealthInfo | null>(null);
  const quitting = useRef(false);

  const quit = useCallback(() => {
    if (quitting.current) return;
    quitting.current = true;
    onQuit?.(sessions.anyTraining());
    sessions.disposeAll();
    exit();
  }, [sessions, onQuit, exit]);

  // Until the server's backend is ready (an embedded server loads tfjs in the background), ask again.
  useEffect(() => {
    let timer: NodeJS.Timeout | undefined;
    let live = true;
    const poll = () =>
      api.health().then(
        (h) => {
          if (!live) return;
          setHealth(h);
          if (!h.ready && h.error) setStatus({ text: `tfjs backend unavailable: ${h.error}`, tone: 'error' });
          else if (!h.ready) timer = setTimeout(poll, HEALTH_POLL_MS);
        },
        (err) => live && setStatus({ text: describeError(err), tone: 'error' }),
      );
    void poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [api]);

  useEffect(() => () => sessions.disposeAll(), [sessions]);

  const navigate = useCallback((next: Route) => {
    setStatus(null);
    setRoute(next);
  }, []);
  const notify = useCallback((text: string | null, tone: Tone = 'info') => setStatus(text === null ? null : { text, tone }), []);
  const setFooter = useCallback(
    (screen: ScreenName, ids: string[], typing: boolean) => setFooterState({ screen, ids, typing }),
    [],
  );

  useKeys((input, key) => {
    if (key.ctrl && input === 'c') return quit();
    if (help) {
      if (input === '?' || key.escape || key.return) setHelp(false);
      else if (input === 'q') quit();
      return;
    }
    if (footer.typing) return;
    if (input === '?') setHelp(true);
    else if (input === 'q') quit();
  });

  // Keep the frame one row shorter than the terminal: a full-height frame makes Ink clear the
  // whole screen on every update (flicker).
  const height = Math.max(8, rows - 1);
  const bodyRows = height - 4;
  const ui: Ui = {
    api,
    sessions,
    saveDir: saveDir ?? process.cwd(),
    navigate,
    active: !help,
    notify,
    setFooter,
    quit,
    serverBackend: health?.ready ? health.backend : null,
    columns,
    bodyRows,
  };

  const screen: ScreenName = route.name;
  return (
    <UiContext.Provider value={ui}>
      <Box flexDirection="column" width={columns} height={height}>
        <Header screen={screen} route={route} apiLabel={apiLabel} health={health} columns={columns} />
        <Box flexDirection="column" height={bodyRows} overflow="hidden">
          {help ? (
            <HelpOverlay current={screen} />
          ) : route.name === 'runs' ? (
            <RunsScreen />
          ) : route.name === 'new' ? (
            <NewRunScreen />
          ) : route.name === 'run' ? (
            <RunScreen key={route.runId} runId={route.runId} />
          ) : (
            <GenerateScreen key={route.runId} runId={route.runId} />
          )}
        </Box>
        <Box height={1}>
          {status ? (
            <Text color={status.tone === 'error' ? 'red' : status.tone === 'success' ? 'green' : undefined} wrap="truncate-end">
              {status.tone === 'error' ? '✗ ' : status.tone === 'success' ? '✓ ' : ''}
              {status.text}
            </Text>
          ) : (
            <Text> </Text>
          )}
        </Box>
        <Footer keys={help ? HELP_FOOTER : footerKeys(footer.screen, footer.ids, footer.typing)} />
      </Box>
    </UiContext.Provider>
  );
}

const HELP_FOOTER: KeyBinding[] = [
  { id: 'close', keys: '?/Esc', label: 'close help' },
  { id: 'quit', keys: 'q', label: 'quit' },
];

function Header({ screen, route, apiLabel, health, columns }: { screen: ScreenName; route: Route; apiLabel: string; health: HealthInfo | null; columns: number }) {
  const where = route.name === 'run' || route.name === 'generate' ? ` › ${route.runId}` : '';
  return (
    <Box height={1} width={columns}>
      <Text bold color="magenta">charrnn</Text>
      <Text> {SCREEN_TITLES[screen]}{where}</Text>
      <Box flexGrow={1} />
      <Text dimColor wrap="truncate-start">
        {apiLabel}
        {health ? ` · ${backendLabel(health)} · v${health.version}` : ''}
      </Text>
    </Box>
  );
}

const HEALTH_POLL_MS = 500;

function backendLabel(h: HealthInfo): string {
  if (h.ready) return h.device === 'gpu' ? `${h.backend} (gpu)` : h.backend;
  return h.error ? 'backend failed' : 'backend starting…';
}

function Footer({ keys }: { keys: KeyBinding[] }) {
  return (
    <Box height={1}>
      <Text wrap="truncate-end">
        {keys.map((k, i) => (
          <Text key={k.id + i}>
            <Text bold color="cyan">{k.keys}</Text>
            <Text dimColor> {k.label}</Text>
            {i < keys.length - 1 ? '  ' : ''}
          </Text>
        ))}
      </Text>
    </Box>
  );
}

function HelpOverlay({ current }: { current: ScreenName }) {
  const order: ScreenName[] = [current, ...(['runs', 'new', 'run', 'generate'] as ScreenName[]).filter((s) => s !== current)];
  return (
    <Box flexDirection="column" paddingLeft={1}>
      <Text bold color="cyan">
        Keys
      </Text>
      <Box flexDirection="row" flexWrap="wrap">
        <KeyGroup title="Everywhere" keys={[...GLOBAL_KEYS, { id: 'nav', keys: 'Esc', label: 'back' }]} />
        {order.map((s) => (
          <KeyGroup key={s} title={SCREEN_TITLES[s] + (s === current ? ' (here)' : '')} keys={SCREEN_KEYS[s]} />
        ))}
      </Box>
    </Box>
  );
}

// 33 columns: three groups side by side fit a 100-column terminal (with the overlay's left pad), so every screen's keys fit 24 rows.
function KeyGroup({ title, keys }: { title: string; keys: KeyBinding[] }) {
  return (
    <Box flexDirection="column" marginBottom={1} width={33}>
      <Text underline>{title}</Text>
      {keys.map((k) => (
        <Text key={k.id} wrap="truncate-end">
          <Text color="cyan">{k.keys.padEnd(11)}</Text>
          {k.label}
        </Text>
      ))}
    </Box>
  );
}
