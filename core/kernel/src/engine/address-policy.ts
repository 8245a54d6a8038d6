import { isIPv4, isIPv6 } from 'node:net';

/** Why an address is not a public one (see {@link classifyAddress}). */
export type PrivateAddressKind = 'unspecified' | 'loopback' | 'link-local' | 'private' | 'shared' | 'site-local';

/** IPv4 ranges as [first octets as a 32-bit number, prefix length, kind]. */
const V4_RANGES: readonly (readonly [number, number, PrivateAddressKind])[] = [
  [v4(0, 0, 0, 0), 8, 'unspecified'], // "this network"; 0.0.0.0 reaches the local host
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'], // cloud metadata services live here
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(100, 64, 0, 0), 10, 'shared'], // carrier-grade NAT
];

function v4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function parseV4(address: string): number {
  const [a, b, c, d] = address.split('.').map(Number) as [number, number, number, number];
  return v4(a, b, c, d);
}

function classifyV4(value: number): PrivateAddressKind | undefined {
  for (const [network, prefix, kind] of V4_RANGES) {
    const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
    if (((value & mask) >>> 0) === network) return kind;
  }
  return undefined;
}

/** The eight 16-bit groups of a valid IPv6 address (zone id dropped, dotted tail folded in). */
function parseV6(address: string): number[] {
  let text = address.split('%')[0]!.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const value = parseV4(dotted[1]!);
    text = `${text.slice(0, dotted.index)}${(value >>> 16).toString(16)}:${(value & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((group) => parseInt(group, 16));
}

/**
 * What kind of non-public address `address` (an IP literal) is: loopback, unspecified,
 * link-local, private (RFC 1918, IPv6 unique-local), shared (CGNAT 100.64/10) or the
 * deprecated IPv6 site-local; `undefined` for any other address, and for anything that is
 * not an IP address at all. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are classified
 * as the IPv4 address they carry.
 */
export function classifyAddress(address: string): PrivateAddressKind | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIPv4(bare)) return classifyV4(parseV4(bare));
  if (!isIPv6(bare)) return undefined;
  const g = parseV6(bare);
  if (g.length !== 8 || g.some((x) => Number.isNaN(x))) return undefined;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return classifyV4(((g[6]! << 16) | g[7]!) >>> 0); // ::ffff:a.b.c.d
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0]! & 0xffc0) === 0xfec0) return 'site-local';
  if ((g[0]! & 0xfe00) === 0xfc00) return 'private';
  return undefined;
}
