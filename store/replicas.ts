/**
 * How many replicas the cluster's buckets and streams get when nobody says (`--replicas` omitted):
 * every component that creates the store asks the server it is connected to and gets the same
 * answer, so none of them scales the buckets back and forth (ensureBucket rescales to what it is told).
 *
 *   server INFO: no `cluster`  ─► 1 (a single server: R1 is all it can hold)
 *                `cluster` and N servers known (connect_urls, or the URLs given) ─► 3 if N >= 3, else 1
 */
import type { NatsConnection, ServerInfo } from '@nats-io/transport-node';
import { UsageError } from '../lib/errors.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** MAX_REPLICAS is JetStream's largest replica count. */
export const MAX_REPLICAS = 5;

/**
 * suggestReplicas is the default replica count for the server that sent `info`: 3 in a cluster of
 * at least 3 servers (R3 survives the loss of one server; R5 only on request), 1 otherwise.
 * `givenServers` counts the URLs the caller was given, for servers that do not advertise their peers. Pure.
 */
export function suggestReplicas(info: Pick<ServerInfo, 'cluster' | 'connect_urls'> | undefined, givenServers = 1): number {
  if (!info?.cluster) return 1;
  const known = Math.max(new Set(info.connect_urls ?? []).size, givenServers);
  return known >= 3 ? 3 : 1;
}

/** replicasFor is suggestReplicas for an open connection. */
export function replicasFor(nc: NatsConnection, givenServers = 1): number {
  return suggestReplicas(nc.info, givenServers);
}

/** parseReplicas reads a `--replicas` value: a whole number 1..5; E_USAGE naming the flag otherwise. */
export function parseReplicas(text: string, flag = '--replicas'): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) {
    throw new UsageError(ErrorCodes.Usage, `${flag} "${text}": expected a whole number from 1 to ${MAX_REPLICAS} (JetStream's limit)`, { flag });
  }
  return n;
}

/** placementOf is a stream config's `placement` for JetStream placement tags (the servers' `server_tags`); none without tags. Pure. */
export function placementOf(tags: readonly string[] | undefined): { placement?: { cluster: string; tags: string[] } } {
  return tags?.length ? { placement: { cluster: '', tags: [...tags] } } : {};
}

/**
 * spreadTag is the placement tags of the `index`-th stream when the streams are spread over servers
 * tagged `spreadOver` (one tag per server): round-robin, for R1 streams only (a replicated stream
 * already has a copy on every server, and one tag names one server). nats-server 2.9 otherwise put
 * every R1 stream of the cluster on one server. Pure.
 */
export function spreadTag(index: number, spreadOver: readonly string[] | undefined, replicas: number | undefined): string[] | undefined {
  if (!spreadOver?.length || (replicas ?? 1) > 1) return undefined;
  return [spreadOver[index % spreadOver.length]!];
}
