/** Small network helpers. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** LOWEST_PORT is where freePort's picks start: below it are well-known and registered services. */
const LOWEST_PORT = 10_000;
/** PICKS is how many ports below the ephemeral range freePort tries before it asks the kernel. */
const PICKS = 32;

/**
 * freePort returns a free TCP port on `host` (default 127.0.0.1) below the kernel's ephemeral range
 * (ip_local_port_range): a port in that range, as the kernel gives for port 0, is also what it hands
 * out as the source port of outgoing connections, so in the seconds between the pick and the bind a
 * client's connection (a NATS client of the same `gitcell up`, say) can take it, and a component that
 * binds it later fails with EADDRINUSE on every restart for as long as that connection lives. Below
 * the range only another listener can take it. Another process may still take it before the caller
 * binds it: callers that can, retry; components fail loudly on a port in use.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const low = ephemeralLow();
  for (let i = 0; low - LOWEST_PORT > PICKS && i < PICKS; i++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (low - LOWEST_PORT));
    if (await bindable(port, host)) return port;
  }
  return listenAndClose(0, host);
}

/** ephemeralLow is the first port of the kernel's ephemeral range (32768, Linux's default, if unreadable). */
export function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number, host: string): Promise<boolean> {
  return listenAndClose(port, host).then(() => true, () => false);
}

function listenAndClose(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(port, host, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(got));
    });
  });
}
