/**
 * TLS material for NATS: a cluster CA and one certificate for the servers (client listener and
 * cluster routes, both directions), made with the system `openssl` binary. Node's crypto has no
 * X.509 issuing API, and openssl is on every Debian machine (scripts/bootstrap.sh makes sure), so no
 * npm dependency is needed for a few certificates made once.
 *
 *   ensureNatsTls(dir, hosts) ──► dir/ca.key, ca.pem (CA, 10 y) ──► dir/server.key, server.pem
 *                                   (SAN: 127.0.0.1, localhost, hosts; serverAuth + clientAuth)
 *
 * Clients verify the server against ca.pem; servers verify each other's route certificate against it,
 * so a server without a certificate from this CA cannot join the cluster. Existing files are kept.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { StoreError } from '../lib/errors.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

const run = promisify(execFile);

/** OPENSSL is the openssl binary (absolute: children get absolute paths). */
export const OPENSSL = process.env.GITCELL_OPENSSL ?? '/usr/bin/openssl';

/** NatsTls names the TLS files of a cluster. */
export interface NatsTls {
  /** the CA certificate every client and server trusts */
  caFile: string;
  /** the servers' certificate and key (for the client listener and the routes) */
  certFile: string;
  keyFile: string;
}

/** natsTlsFiles names the files ensureNatsTls makes in `dir`. */
export function natsTlsFiles(dir: string): NatsTls {
  const d = resolve(dir);
  return { caFile: join(d, 'ca.pem'), certFile: join(d, 'server.pem'), keyFile: join(d, 'server.key') };
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run(OPENSSL, args, { cwd, timeout: 60_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string; code?: string };
    if (e.code === 'ENOENT') throw new StoreError(ErrorCodes.OpensslMissing, `openssl not found at ${OPENSSL}: install the Debian package openssl (scripts/bootstrap.sh)`, { binary: OPENSSL });
    throw new StoreError(ErrorCodes.TlsCert, `openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`, { args: args.join(' ') });
  }
}

/**
 * ensureNatsTls makes (or keeps) the CA and the server certificate in `dir` (keys 0600). `hosts` are
 * the extra names and addresses clients reach the servers by (127.0.0.1 and localhost always).
 */
export async function ensureNatsTls(dir: string, hosts: string[] = []): Promise<NatsTls> {
  const d = resolve(dir);
  const files = natsTlsFiles(d);
  await mkdir(d, { recursive: true, mode: 0o700 });
  const caKey = join(d, 'ca.key');
  if (!existsSync(files.caFile) || !existsSync(caKey)) {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', files.caFile, '-days', '3650',
      '-subj', '/CN=gitcell NATS CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], d);
    await chmod(caKey, 0o600);
    await rm(files.certFile, { force: true });
  }
  if (!existsSync(files.certFile) || !existsSync(files.keyFile)) {
    const names = [...new Set(['127.0.0.1', 'localhost', ...hosts])];
    const san = names.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    const ext = join(d, 'server.ext');
    const csr = join(d, 'server.csr');
    await writeFile(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\n`);
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', files.keyFile, '-out', csr, '-subj', '/CN=gitcell NATS server'], d);
    await openssl(['x509', '-req', '-in', csr, '-CA', files.caFile, '-CAkey', caKey, '-CAcreateserial', '-out', files.certFile, '-days', '825', '-extfile', ext], d);
    await chmod(files.keyFile, 0o600);
    await rm(csr, { force: true });
  }
  return files;
}

/** clientTlsConfig is the server's `tls {}` block: clients must speak TLS and verify this certificate. */
export function clientTlsConfig(tls: NatsTls): string {
  return `tls ${JSON.stringify({ cert_file: tls.certFile, key_file: tls.keyFile, ca_file: tls.caFile, timeout: 5 }, null, 2)}\n`;
}

/** RouteOptions describe one server's side of the cluster routes. */
export interface RouteOptions {
  /** cluster name */
  name: string;
  /** host:port of this server's route listener */
  listen: string;
  /** host:port of every server's route listener (this one included) */
  routes: string[];
  /** the shared route credential: a server must present it to route in */
  user: string;
  password: string;
  tls: NatsTls;
}

/**
 * clusterConfig is the server's `cluster {}` block: routes authenticated (user and password) and
 * mutually verified over TLS (each side's certificate must come from the cluster CA), so a server
 * without the cluster's credentials and certificate cannot join and route traffic is encrypted.
 */
export function clusterConfig(o: RouteOptions): string {
  const auth = `${encodeURIComponent(o.user)}:${encodeURIComponent(o.password)}`;
  return `cluster ${JSON.stringify(
    {
      name: o.name,
      listen: o.listen,
      authorization: { user: o.user, password: o.password, timeout: 5 },
      tls: { cert_file: o.tls.certFile, key_file: o.tls.keyFile, ca_file: o.tls.caFile, verify: true, timeout: 5 },
      routes: o.routes.map((r) => `nats-route://${auth}@${r}`),
    },
    null,
    2,
  )}\n`;
}
