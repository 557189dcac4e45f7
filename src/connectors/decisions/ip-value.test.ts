import { describe, expect, it } from 'vitest';
import { networkContains, parseAddress, parseNetwork } from './ip-value.js';

const covers = (network: string, ip: string) => networkContains(parseNetwork(network)!, parseAddress(ip)!);

describe('parseAddress', () => {
  it('canonicalises IPv4 and IPv6, and takes an IPv4-mapped address as IPv4', () => {
    expect(parseAddress('203.0.113.7')?.canonical).toBe('203.0.113.7');
    expect(parseAddress('2001:DB8:0:0:0:0:0:1')?.canonical).toBe('2001:db8::1');
    expect(parseAddress('::ffff:203.0.113.7')).toMatchObject({ kind: 'ipv4', canonical: '203.0.113.7' });
    expect(parseAddress('::ffff:cb00:7107')).toMatchObject({ kind: 'ipv4', canonical: '203.0.113.7' });
  });

  it.each([
    '',
    '203.0.113',
    '127.1',
    '0x7f.0.0.1',
    '010.0.0.1',
    '256.0.0.1',
    'fe80::1%eth0',
    '2001:db8::g',
    '10.0.0.0/8',
    'a',
  ])('refuses %j', (text) => expect(parseAddress(text)).toBeUndefined());
});

describe('parseNetwork', () => {
  it('reduces to the network address', () => {
    expect(parseNetwork('10.0.0.7/24')?.canonical).toBe('10.0.0.0/24');
    expect(parseNetwork('2001:db8:aa::1/32')?.canonical).toBe('2001:db8::/32');
    expect(parseNetwork('0.0.0.0/0')?.canonical).toBe('0.0.0.0/0');
    expect(parseNetwork('10.1.2.3/32')?.canonical).toBe('10.1.2.3/32');
    expect(parseNetwork('::ffff:10.0.0.0/104')?.canonical).toBe('10.0.0.0/8');
    expect(parseNetwork('10.0.0.1/23')?.canonical).toBe('10.0.0.0/23');
  });

  it.each(['10.0.0.1/33', '10.0.0.0', '10.0.0.0/', '10.0.0.0/08', '2001:db8::/129', 'x/8', '10.0.0.0/-1'])(
    'refuses %j',
    (text) => expect(parseNetwork(text)).toBeUndefined(),
  );

  it('matches at the boundaries of a /24, a /0 and IPv6 networks', () => {
    expect(covers('198.51.100.0/24', '198.51.100.0')).toBe(true);
    expect(covers('198.51.100.0/24', '198.51.100.255')).toBe(true);
    expect(covers('198.51.100.0/24', '198.51.101.0')).toBe(false);
    expect(covers('198.51.100.0/24', '198.51.99.255')).toBe(false);
    expect(covers('0.0.0.0/0', '255.255.255.255')).toBe(true);
    expect(covers('0.0.0.0/0', '2001:db8::1')).toBe(false);
    expect(covers('::/0', '2001:db8::1')).toBe(true);
    expect(covers('2001:db8::/32', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(covers('2001:db8::/32', '2001:db9::')).toBe(false);
    expect(covers('198.51.100.0/24', '::ffff:198.51.100.9')).toBe(true);
  });
});
