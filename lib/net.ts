/** Small network helpers. */
import { createServer } from 'node:net';

/**
 * freePort asks the kernel for a free TCP port on `host` (default 127.0.0.1). Another process may
 * take it before the caller binds it: callers that can, retry; components fail loudly on a port in use.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
