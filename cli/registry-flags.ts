/**
 * The node's registry settings from `gitcell agent` flags: mirrors (`--registry-mirror
 * HOST=ENDPOINT`, repeatable, tried in order before HOST itself) and the node's own credentials
 * (`--registry-auth FILE`, a docker config.json / podman auth.json). Bad values are usage errors.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ErrorCodes, UsageError, errorMessage } from '../lib/index.ts';
import { parseDockerConfig, parseEndpoint, type RegistryAuths, type RegistryMirrors } from '../runtime/index.ts';

/** RegistryFlags are the flags as commander collects them. */
export interface RegistryFlags {
  registryMirror?: string[];
  registryAuth?: string;
}

/** registrySettings turns the flags into runtime adapter options; E_USAGE naming the flag. */
export function registrySettings(f: RegistryFlags): { mirrors?: RegistryMirrors; auths?: RegistryAuths } {
  const mirrors: Record<string, string[]> = {};
  for (const m of f.registryMirror ?? []) {
    const eq = m.indexOf('=');
    if (eq <= 0 || eq === m.length - 1) throw new UsageError(ErrorCodes.Usage, `--registry-mirror: "${m}" is not HOST=ENDPOINT (e.g. docker.io=127.0.0.1:5000)`, { flag: '--registry-mirror' });
    const host = m.slice(0, eq).toLowerCase();
    const endpoint = m.slice(eq + 1);
    try {
      parseEndpoint(endpoint, '--registry-mirror');
    } catch (err) {
      throw new UsageError(ErrorCodes.Usage, errorMessage(err), { flag: '--registry-mirror' });
    }
    (mirrors[host] ??= []).push(endpoint);
  }
  let auths: RegistryAuths | undefined;
  if (f.registryAuth) {
    const file = resolve(f.registryAuth);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(ErrorCodes.Usage, `--registry-auth: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`, { flag: '--registry-auth' });
    }
    try {
      auths = parseDockerConfig(text, file);
    } catch (err) {
      throw new UsageError(ErrorCodes.Usage, `--registry-auth: ${errorMessage(err)}`, { flag: '--registry-auth' });
    }
  }
  return { ...(Object.keys(mirrors).length ? { mirrors } : {}), ...(auths ? { auths } : {}) };
}
