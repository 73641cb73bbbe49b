// Starts Debian's real docker-registry (distribution 2.8) on a free loopback port for tests, with
// no auth, htpasswd basic auth, or token auth served by a tiny token server signing JWTs with a
// key and self-signed certificate generated for the run. stop() kills it and removes its files.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createSign, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import bcrypt from 'bcryptjs';
import { requireTool } from './tools.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

/** RegistryAuth selects how the test registry authenticates. */
export type RegistryAuth = { kind: 'none' } | { kind: 'basic'; username: string; password: string } | { kind: 'token'; username: string; password: string };

/** TestRegistry is a running docker-registry. */
export interface TestRegistry {
  /** domain is "127.0.0.1:PORT", usable in image references. */
  domain: string;
  url: string;
  /** tokenRequests counts token server requests (token auth only). */
  tokenRequests: { scope: string[]; user: string | undefined }[];
  stop(): Promise<void>;
}

/** freePort asks the kernel for a free loopback port (lib/net.ts). */
export { freePort } from '../../lib/net.ts';
import { freePort } from '../../lib/net.ts';

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

async function startTokenServer(dir: string, username: string, password: string, service: string, issuer: string, log: TestRegistry['tokenRequests']): Promise<{ server: Server; realm: string; certPath: string }> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=gitcell-test-token-issuer']);
  const key = await readFile(keyPath, 'utf8');
  const certDer = new X509Certificate(await readFile(certPath)).raw;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const auth = req.headers.authorization ?? '';
    const [user, pass] = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(':') : [undefined, undefined];
    log.push({ scope: scopes, user });
    if (user !== username || pass !== password) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ details: 'bad credentials' }));
      return;
    }
    const access = scopes.map((s) => {
      const [type, name, actions] = s.split(':');
      return { type, name, actions: (actions ?? '').split(',').filter(Boolean) };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub: user, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: `${now}-${Math.random()}`, access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(key);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${signingInput}.${b64url(signature)}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, realm: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, certPath };
}

/** startRegistry starts docker-registry with a temp storage dir; fails clearly if it is missing. */
export async function startRegistry(auth: RegistryAuth = { kind: 'none' }): Promise<TestRegistry> {
  await requireTool('docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-registry-'));
  const tokenRequests: TestRegistry['tokenRequests'] = [];
  let tokenServer: Server | undefined;
  let proc: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    if (tokenServer) await new Promise((r) => tokenServer!.close(r));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let authYaml = '';
    if (auth.kind === 'basic') {
      await writeFile(join(dir, 'htpasswd'), `${auth.username}:${bcrypt.hashSync(auth.password, 8)}\n`);
      authYaml = `auth:\n  htpasswd:\n    realm: gitcell-test\n    path: ${join(dir, 'htpasswd')}\n`;
    } else if (auth.kind === 'token') {
      const t = await startTokenServer(dir, auth.username, auth.password, 'gitcell-test-registry', 'gitcell-test-issuer', tokenRequests);
      tokenServer = t.server;
      authYaml = `auth:\n  token:\n    realm: ${t.realm}\n    service: gitcell-test-registry\n    issuer: gitcell-test-issuer\n    rootcertbundle: ${t.certPath}\n`;
    }
    const port = await freePort();
    const config = `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: gitcell-test-${port}\n${authYaml}`;
    await writeFile(join(dir, 'config.yml'), config);
    let stderr = '';
    proc = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`docker-registry on ${url}`, async () => {
      const res = await fetch(`${url}/v2/`);
      await res.body?.cancel();
      return res.status === 200 || res.status === 401;
    }, { timeoutMs: 15_000, gaveUp: () => (proc!.exitCode !== null ? `docker-registry exited (${proc!.exitCode}): ${stderr}` : undefined) });
    return { domain: `127.0.0.1:${port}`, url, tokenRequests, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** registryStarter returns a startRegistry whose registries are stopped by `owner` (a test Scratch). */
export function registryStarter(owner: { defer(undo: () => Promise<void>): void }): (auth?: RegistryAuth) => Promise<TestRegistry> {
  return async (auth) => {
    const r = await startRegistry(auth);
    owner.defer(r.stop);
    return r;
  };
}
