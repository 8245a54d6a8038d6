import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { classifyAddress } from './address-policy.js';

/**
 * This registry's mark on every upstream request: `Via: 1.1 registry-core-<instance>`, a
 * random instance id per process. A request that arrives carrying it went out from here and
 * came back (a proxy whose upstream is, through however many hops that pass `Via` on, this
 * registry): it is refused with 508 instead of going out again.
 */
export class LoopMarker {
  /** `registry-core-<16 hex digits>`. */
  readonly pseudonym: string;
  /** The `Via` value upstream requests carry. */
  readonly via: string;

  constructor(instance = randomBytes(8).toString('hex')) {
    this.pseudonym = `registry-core-${instance}`;
    this.via = `1.1 ${this.pseudonym}`;
  }

  /** Does a request's `Via` header name this registry as a hop? */
  seenIn(via: string | readonly string[] | undefined): boolean {
    if (!via) return false;
    const text = typeof via === 'string' ? via : via.join(',');
    // `Via: 1.1 a, 1.0 b (comment)`: the received-by is each hop's second word.
    return text.length <= 8192 && text.split(',').some((hop) => hop.trim().split(/\s+/)[1] === this.pseudonym);
  }
}

/** Where this server listens: its host (`server.host`), the ports bound, and `server.publicUrl`. */
export interface Listening {
  readonly host: string;
  readonly ports: readonly number[];
  readonly publicUrl?: string | undefined;
}

/**
 * Why `upstream` is this server itself, or `undefined` when it is not: its URL is under
 * `server.publicUrl`, or its host resolves to a local address (loopback, unspecified, or an
 * address of one of this machine's interfaces) that this server listens on, at one of the
 * ports it listens on. A name that does not resolve is not this server.
 */
export async function selfUpstream(upstream: string, listening: Listening): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    return undefined;
  }
  if (listening.publicUrl) {
    const own = new URL(listening.publicUrl);
    const base = own.pathname.endsWith('/') ? own.pathname : `${own.pathname}/`;
    if (own.origin === url.origin && `${url.pathname}/`.startsWith(base)) return `it is under server.publicUrl ${listening.publicUrl}`;
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (!listening.ports.includes(port)) return undefined;
  const addresses = await resolveAll(url.hostname);
  const local = localAddresses();
  const wildcard = ['0.0.0.0', '::', ''].includes(bare(listening.host));
  const bound = wildcard ? undefined : new Set(await resolveAll(listening.host));
  const hit = addresses.find((a) => {
    const kind = classifyAddress(a);
    if (kind !== 'loopback' && kind !== 'unspecified' && !local.has(a)) return false;
    return wildcard || kind === 'unspecified' || bound!.has(a);
  });
  return hit === undefined ? undefined : `${url.hostname} resolves to ${hit}, an address of this machine, and this server listens on port ${port}`;
}

function bare(host: string): string {
  return (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host).toLowerCase();
}

/** Every address a host name (or IP literal) resolves to, IPv4-mapped IPv6 unwrapped; none when it does not resolve. */
async function resolveAll(hostname: string): Promise<string[]> {
  const host = bare(hostname);
  const found = isIP(host) ? [host] : await lookup(host, { all: true }).then((all) => all.map((a) => a.address), () => []);
  return found.map(normalize);
}

function normalize(address: string): string {
  const plain = address.split('%')[0]!.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  return mapped ? mapped[1]! : plain;
}

function localAddresses(): Set<string> {
  return new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => normalize(i.address))));
}
