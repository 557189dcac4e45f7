/**
 * Addresses and networks as decisions store and match them. Parsing, canonical text and CIDR
 * matching come from ipaddr.js (the parser Fastify's own proxy-addr uses, IPv4 and IPv6, no
 * dependencies); this file adds the strictness a blocklist needs: IPv4 in dotted four-part decimal
 * only (no `127.1` or `0x7f.0.0.1`), no IPv6 zone ids, and an IPv4-mapped IPv6 address
 * (`::ffff:203.0.113.7`) taken as the IPv4 address it carries, so IPv4 bans cover it.
 */
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface ParsedAddress {
  readonly kind: 'ipv4' | 'ipv6';
  /** 203.0.113.7, 2001:db8::1 (RFC 5952). */
  readonly canonical: string;
  readonly address: Address;
}

export interface ParsedNetwork {
  readonly kind: 'ipv4' | 'ipv6';
  /** Network address and prefix: 10.0.0.0/24, 2001:db8::/32. */
  readonly canonical: string;
  readonly network: Address;
  readonly prefix: number;
}

/** An address in the strict spellings above, or undefined. */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return undefined;
  let address: Address;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    address = ipaddr.IPv4.parse(text);
  } else if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) {
    const v6 = ipaddr.IPv6.parse(text);
    address = v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
  } else {
    return undefined;
  }
  return { kind: address.kind(), canonical: canonicalText(address), address };
}

/**
 * A network `address/prefix`, or undefined. The address need not be the network's first: it is
 * reduced to it (10.0.0.7/24 → 10.0.0.0/24). An IPv4-mapped IPv6 network of prefix 96 or more is
 * the IPv4 network it maps (::ffff:10.0.0.0/104 → 10.0.0.0/8).
 */
export function parseNetwork(text: string): ParsedNetwork | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(prefixText)) return undefined;
  let prefix = Number(prefixText);
  const addressText = text.slice(0, slash);
  let address: Address;
  if (ipaddr.IPv4.isValidFourPartDecimal(addressText)) {
    address = ipaddr.IPv4.parse(addressText);
    if (prefix > 32) return undefined;
  } else if (addressText.includes(':') && !addressText.includes('%') && ipaddr.IPv6.isValid(addressText)) {
    const v6 = ipaddr.IPv6.parse(addressText);
    if (prefix > 128) return undefined;
    if (v6.isIPv4MappedAddress() && prefix >= 96) {
      address = v6.toIPv4Address();
      prefix -= 96;
    } else {
      address = v6;
    }
  } else {
    return undefined;
  }
  const network = networkOf(address, prefix);
  return { kind: network.kind(), canonical: `${canonicalText(network)}/${prefix}`, network, prefix };
}

/** True when the address lies in the network (never across IPv4 and IPv6). */
export function networkContains(network: ParsedNetwork, address: ParsedAddress): boolean {
  if (network.kind !== address.kind) return false;
  return address.address.match([network.network, network.prefix]);
}

function canonicalText(address: Address): string {
  return address.kind() === 'ipv6' ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
}

/** The address with every bit past the prefix cleared. */
function networkOf(address: Address, prefix: number): Address {
  const bytes = address.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return ipaddr.fromByteArray(bytes);
}
