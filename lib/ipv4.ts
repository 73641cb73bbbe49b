// IPv4 arithmetic shared by the node network (task subnets) and the service network (virtual IPs).
import { NetworkError } from './errors.ts';
import { ErrorCodes } from './error-codes.ts';

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** parseIpv4 turns a dotted quad into its 32-bit number, or undefined when it is not one. */
export function parseIpv4(ip: string): number | undefined {
  const m = DOTTED.exec(ip);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

/** parseIpv4Cidr parses "a.b.c.d/n" (n between 8 and 30) and checks the address is the network address. */
export function parseIpv4Cidr(cidr: string, field = 'subnet'): { network: number; prefix: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new NetworkError(ErrorCodes.NetworkConfig, `${field} "${cidr}" is not an IPv4 CIDR like 10.88.0.0/24`, { field, value: cidr });
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) throw new NetworkError(ErrorCodes.NetworkConfig, `${field} "${cidr}" has an octet above 255`, { field, value: cidr });
  const prefix = Number(m[5]);
  // /31 and /32 leave no room for a gateway and tasks.
  if (prefix < 8 || prefix > 30) throw new NetworkError(ErrorCodes.NetworkConfig, `${field} "${cidr}" prefix must be between /8 and /30`, { field, value: cidr });
  const network = octets.reduce((acc, o) => acc * 256 + o, 0);
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  if ((network & mask) >>> 0 !== network) {
    throw new NetworkError(ErrorCodes.NetworkConfig, `${field} "${cidr}" has host bits set; did you mean ${formatIpv4((network & mask) >>> 0)}/${prefix}?`, { field, value: cidr });
  }
  return { network, prefix };
}

/** formatIpv4 renders a 32-bit number as a dotted quad. */
export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** ipv4InSubnet tells whether a dotted-quad address lies inside a CIDR. */
export function ipv4InSubnet(ip: string, cidr: string): boolean {
  const { network, prefix } = parseIpv4Cidr(cidr);
  const n = parseIpv4(ip);
  if (n === undefined) return false;
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return ((n & mask) >>> 0) === network;
}
