/**
 * compareCodeUnits orders strings by UTF-16 code unit, as Array.prototype.sort does by default: for
 * ids, refs and ISO timestamps. Not localeCompare: its first call loads ICU's collation data, about
 * 3 MB of the node binary's pages kept resident in a process that never needed a locale (the agent).
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
