// A fault-injecting HTTP proxy for 127.0.0.1, put between the functions and s3rver so storage
// faults happen on the wire, where the real AWS SDK sees them (no SDK mocks).
//
//   const proxy = await startFaultProxy(s3.endpoint);   // point AWS_ENDPOINT_URL_S3 at proxy.url
//   proxy.set({ mode: 'status', status: 503 });         // every request answers 503 …
//   proxy.set({ mode: 'status', status: 503, match: (r) => r.method === 'PUT', times: 2 }); // … or the next 2 PUTs
//   proxy.set({ mode: 'delay', ms: 300 });              // slow storage
//   await proxy.refuse();                               // nothing listens on the port (ECONNREFUSED)
//   await proxy.accept();                               // back on the same port
//   proxy.set({ mode: 'pass' });
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ProxyRequest {
  method: string;
  /** Path and query as sent (path-style S3: /<bucket>/<key>). */
  url: string;
}

export type Fault =
  | { mode: 'pass' }
  | { mode: 'delay'; ms: number; match?: (r: ProxyRequest) => boolean; times?: number }
  | { mode: 'status'; status: number; match?: (r: ProxyRequest) => boolean; times?: number }
  /** Accept the connection and close it without an answer (a crashed or overloaded peer). */
  | { mode: 'reset'; match?: (r: ProxyRequest) => boolean; times?: number };

export interface FaultProxy {
  url: string;
  port: number;
  /** Every request seen, with what the proxy did to it ('pass', 'delay', '503', 'reset'). */
  readonly log: (ProxyRequest & { action: string; at: number; status?: number })[];
  set(fault: Fault): void;
  /** Close the listening socket and every open connection: clients get ECONNREFUSED. */
  refuse(): Promise<void>;
  /** Listen again on the same port. */
  accept(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let fault: Fault = { mode: 'pass' };
  let remaining = Infinity;
  const log: FaultProxy['log'] = [];
  const sockets = new Set<Socket>();
  const agent = new http.Agent({ keepAlive: true });

  const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    // A client that went away (killed process, SDK timeout) resets the upstream connection too,
    // as it would without the proxy in between.
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  };

  const server = http.createServer((req, res) => {
    const r: ProxyRequest = { method: req.method ?? 'GET', url: req.url ?? '/' };
    const f = fault;
    const applies = f.mode !== 'pass' && remaining > 0 && (!('match' in f) || !f.match || f.match(r));
    if (!applies) {
      const entry: FaultProxy['log'][number] = { ...r, action: 'pass', at: Date.now() };
      log.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
      return forward(req, res);
    }
    remaining--;
    if (f.mode === 'delay') {
      log.push({ ...r, action: 'delay', at: Date.now() });
      const timer = setTimeout(() => forward(req, res), f.ms);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if (f.mode === 'reset') {
      log.push({ ...r, action: 'reset', at: Date.now() });
      req.socket.destroy();
      return;
    }
    log.push({ ...r, action: String(f.status), at: Date.now() });
    req.resume(); // drain the body, then answer like S3 does
    req.on('end', () => {
      const code = f.status === 503 ? 'ServiceUnavailable' : 'InternalError';
      res.writeHead(f.status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the test proxy</Message></Error>`);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    log,
    set(f) {
      fault = f;
      remaining = 'times' in f && f.times !== undefined ? f.times : Infinity;
    },
    refuse: close,
    accept: () => (server.listening ? Promise.resolve() : listen(port)),
    async close() {
      await close();
      agent.destroy();
    },
  };
}
