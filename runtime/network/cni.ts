import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { NetworkError } from '../../lib/errors.ts';
import { runCommand } from './exec.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** CniCommand is one of the operations of the CNI spec (VERSION and GC are not needed here). */
export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

const CNI_FAILURE_CODES = { ADD: ErrorCodes.CniAdd, DEL: ErrorCodes.CniDel, CHECK: ErrorCodes.CniCheck } as const;

/** CniPluginConf is one plugin's configuration as the CNI spec passes it on stdin. */
export interface CniPluginConf {
  type: string;
  [key: string]: unknown;
}

/** CniNetworkList is a CNI network configuration list (`.conflist`): plugins run in order. */
export interface CniNetworkList {
  cniVersion: string;
  name: string;
  plugins: CniPluginConf[];
}

/** CniIp is one address of a result: `address` in CIDR form, e.g. "10.88.1.2/24". */
export interface CniIp {
  address: string;
  gateway?: string;
  interface?: number;
}

/** CniResult is the spec's (1.0.0) success result, trimmed to what gitcell reads. */
export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: CniIp[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

/** CniInvocation is everything a plugin call depends on besides its configuration. */
export interface CniInvocation {
  containerId: string;
  netns: string;
  ifName: string;
  /** Directories searched for plugin binaries, in order (CNI_PATH). */
  pluginDirs: string[];
  /** CNI_ARGS, `K=V;K=V` (e.g. `IgnoreUnknown=1;IP=10.88.0.7`: host-local gives that address) */
  args?: string;
  timeoutMs?: number;
}

/** findPlugin returns the executable for plugin `type` in the first directory that has it. */
export async function findPlugin(type: string, pluginDirs: string[]): Promise<string> {
  if (!/^[A-Za-z0-9_-]+$/.test(type)) {
    throw new NetworkError(ErrorCodes.CniPlugin, `CNI plugin type "${type}" is not a plain plugin name`, { type });
  }
  for (const dir of pluginDirs) {
    const file = join(dir, type);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // try the next directory
    }
  }
  throw new NetworkError(ErrorCodes.CniPlugin, `CNI plugin "${type}" not found in ${pluginDirs.join(':')} (Debian package containernetworking-plugins)`, { type, pluginDirs });
}

/**
 * invokePlugin runs one CNI plugin per the spec: the command and identity in CNI_* variables, the
 * configuration as JSON on stdin, the result (or a structured error) as JSON on stdout. ADD returns
 * the parsed result; DEL and CHECK return undefined. A failure becomes E_CNI_<COMMAND> with the
 * plugin's own code and message.
 */
export async function invokePlugin(command: CniCommand, conf: Record<string, unknown> & { type: string }, inv: CniInvocation): Promise<CniResult | undefined> {
  const file = await findPlugin(conf.type, inv.pluginDirs);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifName,
    CNI_PATH: inv.pluginDirs.join(':'),
    ...(inv.args ? { CNI_ARGS: inv.args } : {}),
  };
  const r = await runCommand(file, [], { env, input: JSON.stringify(conf), timeoutMs: inv.timeoutMs ?? 30_000, helper: true });
  if (r.code !== 0) {
    const err = parseCniError(r.stdout);
    const detail = err ? `${err.msg}${err.details ? `: ${err.details}` : ''} (CNI code ${err.code})` : (r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`);
    throw new NetworkError(CNI_FAILURE_CODES[command], `CNI ${command} with plugin ${conf.type} for ${inv.containerId} failed: ${detail}`, {
      plugin: conf.type, containerId: inv.containerId, cniCode: err?.code,
    });
  }
  if (command !== 'ADD') return undefined;
  return parseCniResult(r.stdout, conf.type);
}

/** parseCniError reads the spec's error object `{code, msg, details}` from a plugin's stdout. */
export function parseCniError(stdout: string): { code: number; msg: string; details?: string } | undefined {
  try {
    const v = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof v.code === 'number' && typeof v.msg === 'string') {
      return { code: v.code, msg: v.msg, ...(typeof v.details === 'string' && v.details ? { details: v.details } : {}) };
    }
  } catch {
    // not JSON: the caller falls back to stderr
  }
  return undefined;
}

/** parseCniResult validates a plugin's ADD output; a malformed result names the plugin and field. */
export function parseCniResult(stdout: string, plugin: string): CniResult {
  let v: unknown;
  try {
    v = JSON.parse(stdout);
  } catch {
    throw new NetworkError(ErrorCodes.CniResult, `CNI plugin ${plugin} printed a result that is not JSON`, { plugin, stdout: stdout.slice(0, 200) });
  }
  if (typeof v !== 'object' || v === null) throw new NetworkError(ErrorCodes.CniResult, `CNI plugin ${plugin} result is not an object`, { plugin });
  const r = v as Record<string, unknown>;
  if (typeof r.cniVersion !== 'string') throw new NetworkError(ErrorCodes.CniResult, `CNI plugin ${plugin} result has no cniVersion`, { plugin, field: 'cniVersion' });
  if (r.ips !== undefined) {
    if (!Array.isArray(r.ips)) throw new NetworkError(ErrorCodes.CniResult, `CNI plugin ${plugin} result field ips is not a list`, { plugin, field: 'ips' });
    r.ips.forEach((ip: unknown, i: number) => {
      const a = (ip as { address?: unknown } | null)?.address;
      if (typeof a !== 'string' || !/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(a)) {
        throw new NetworkError(ErrorCodes.CniResult, `CNI plugin ${plugin} result field ips[${i}].address is not a CIDR address`, { plugin, field: `ips[${i}].address` });
      }
    });
  }
  return r as unknown as CniResult;
}

/** ipv4Of returns the first IPv4 address of a result without its prefix length, if any. */
export function ipv4Of(result: CniResult): { ip: string; prefix: number; gateway?: string } | undefined {
  for (const entry of result.ips ?? []) {
    const [ip, prefix] = entry.address.split('/');
    if (ip && /^\d+\.\d+\.\d+\.\d+$/.test(ip)) return { ip, prefix: Number(prefix), ...(entry.gateway ? { gateway: entry.gateway } : {}) };
  }
  return undefined;
}

/**
 * pluginConf builds what one plugin of a list receives: the list's name and cniVersion, and for
 * every plugin after the first (ADD) or for DEL/CHECK the previous result as `prevResult`.
 */
export function pluginConf(list: CniNetworkList, plugin: CniPluginConf, prevResult?: CniResult): Record<string, unknown> & { type: string } {
  return { ...plugin, cniVersion: list.cniVersion, name: list.name, ...(prevResult ? { prevResult } : {}) };
}

/** addNetworkList runs ADD through every plugin of a list, chaining results as the spec says. */
export async function addNetworkList(list: CniNetworkList, inv: CniInvocation): Promise<CniResult> {
  let prev: CniResult | undefined;
  for (const plugin of list.plugins) {
    prev = await invokePlugin('ADD', pluginConf(list, plugin, prev), inv);
  }
  if (!prev) throw new NetworkError(ErrorCodes.CniResult, `CNI network ${list.name} has no plugins`, { network: list.name });
  return prev;
}

/** delNetworkList runs DEL through the plugins in reverse order (the spec's teardown order). */
export async function delNetworkList(list: CniNetworkList, inv: CniInvocation, prevResult?: CniResult): Promise<void> {
  for (const plugin of [...list.plugins].reverse()) {
    await invokePlugin('DEL', pluginConf(list, plugin, prevResult), inv);
  }
}

/** checkNetworkList runs CHECK through every plugin with the cached ADD result. */
export async function checkNetworkList(list: CniNetworkList, inv: CniInvocation, prevResult: CniResult): Promise<void> {
  for (const plugin of list.plugins) {
    await invokePlugin('CHECK', pluginConf(list, plugin, prevResult), inv);
  }
}
