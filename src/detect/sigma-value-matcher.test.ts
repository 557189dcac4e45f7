/** One search item (`field|modifiers: values`): every modifier, wildcards, case, arrays, null. */
import { describe, expect, it } from 'vitest';
import type { EcsEvent } from '../events/index.js';
import { base64Offsets, compileFieldMatcher, parseIp } from './sigma-value-matcher.js';

const ev = (fields: Record<string, unknown>): EcsEvent => ({
  '@timestamp': '2026-03-02T10:04:05.000Z',
  ...fields,
});
const test = (key: string, value: unknown, fields: Record<string, unknown>, placeholders = {}) =>
  compileFieldMatcher(key, value, `detection.sel.${key}`, { placeholders }).test(ev(fields));
const cmd = (key: string, value: unknown, line: unknown) => test(`cmd${key}`, value, { cmd: line });
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('plain values and wildcards', () => {
  it('matches whole values case-insensitively', () => {
    expect(cmd('', 'Whoami', 'WHOAMI')).toBe(true);
    expect(cmd('', 'whoami', 'whoami /all')).toBe(false);
  });

  it('supports * and ? anywhere', () => {
    expect(cmd('', 'prog?.exe', 'progA.exe')).toBe(true);
    expect(cmd('', 'prog?.exe', 'progAB.exe')).toBe(false);
    expect(cmd('', 'a*z', 'a\nlong\nz')).toBe(true);
    expect(cmd('', '*.EXE', 'c:\\x.exe')).toBe(true);
    expect(cmd('', 'c:*', 'C:\\x')).toBe(true);
    expect(cmd('', '*mid*', 'a MID b')).toBe(true);
    expect(cmd('', '*', '')).toBe(true);
    expect(cmd('', 'a*b?c', 'aXXbYc')).toBe(true);
    expect(cmd('', 'a*b?c', 'aXXbc')).toBe(false);
    // Every RegExp-special character in a wildcard pattern is plain text.
    expect(cmd('', 'a-(b)[c]{1}.+^$|/*', 'A-(B)[C]{1}.+^$|/ and more')).toBe(true);
    expect(cmd('', 'a-(b)*', 'aX(b)')).toBe(false);
    expect(cmd('|cased', 'x.y*', 'xzy1')).toBe(false);
    expect(cmd('', '?', '\u{1F600}')).toBe(true); // one character, not one UTF-16 unit
  });

  it('follows the spec escaping rules', () => {
    expect(cmd('', 'a\\*b', 'a*b')).toBe(true);
    expect(cmd('', 'a\\*b', 'axb')).toBe(false);
    expect(cmd('', 'what\\?', 'what?')).toBe(true);
    expect(cmd('', 'what\\?', 'whatx')).toBe(false);
    expect(cmd('', 'c:\\windows', 'C:\\Windows')).toBe(true); // a lone backslash is plain
    expect(cmd('', 'c:\\\\windows', 'C:\\Windows')).toBe(true); // so is a doubled one
    expect(cmd('', 'dir\\\\*', 'dir\\anything')).toBe(true); // backslash then wildcard
    expect(cmd('', 'dir\\\\\\*', 'dir\\*')).toBe(true); // backslash and star, both plain
    expect(cmd('', 'dir\\\\\\*', 'dir\\x')).toBe(false);
    expect(cmd('', '\\\\\\\\', '\\\\')).toBe(true);
  });

  it('matches numbers and booleans by their string form', () => {
    expect(test('id', 4769, { id: 4769 })).toBe(true);
    expect(test('id', 4769, { id: '4769' })).toBe(true);
    expect(test('id', '4769', { id: 4769 })).toBe(true);
    expect(test('id', 4769, { id: 4770 })).toBe(false);
    expect(test('ok', true, { ok: true })).toBe(true);
    expect(test('ok', true, { ok: false })).toBe(false);
  });

  it('ORs a list of values and matches any element of an array field', () => {
    expect(test('id', [517, 1102], { id: 1102 })).toBe(true);
    expect(test('id', [517, 1102], { id: 1 })).toBe(false);
    expect(test('user.roles', 'admin', { user: { roles: ['viewer', 'Admin'] } })).toBe(true);
    expect(test('user.roles', 'admin', { user: { roles: ['viewer'] } })).toBe(false);
  });

  it('never matches objects or absent fields', () => {
    expect(test('user', '*', { user: { name: 'x' } })).toBe(false);
    expect(test('user.name', '*', {})).toBe(false);
  });
});

describe('null and exists', () => {
  it('null matches an absent or null field', () => {
    expect(test('pw', null, {})).toBe(true);
    expect(test('pw', null, { pw: null })).toBe(true);
    expect(test('pw', null, { pw: '' })).toBe(false);
    expect(test('pw', [null, 'x'], { pw: 'X' })).toBe(true);
  });

  it('exists tests presence only', () => {
    expect(test('pw|exists', true, { pw: '' })).toBe(true);
    expect(test('pw|exists', true, { pw: null })).toBe(true);
    expect(test('pw|exists', true, {})).toBe(false);
    expect(test('pw|exists', false, {})).toBe(true);
    expect(test('a.b|exists', true, { a: { b: 0 } })).toBe(true);
  });
});

describe('contains, startswith, endswith, all, cased', () => {
  it('anchors as named', () => {
    expect(cmd('|contains', 'mimi', 'x MIMIkatz')).toBe(true);
    expect(cmd('|contains', 'mimi', 'x')).toBe(false);
    expect(cmd('|startswith', 'adm', 'Administrator')).toBe(true);
    expect(cmd('|startswith', 'adm', 'sysadm')).toBe(false);
    expect(cmd('|endswith', '\\cmd.exe', 'C:\\Windows\\CMD.EXE')).toBe(true);
    expect(cmd('|endswith', '\\cmd.exe', 'C:\\cmd.exe.bak')).toBe(false);
    expect(cmd('|contains', 'a*c', 'xxabbcxx')).toBe(true);
  });

  it('all requires every value', () => {
    expect(cmd('|contains|all', ['-enc', 'hidden'], 'ps -Enc x -w Hidden')).toBe(true);
    expect(cmd('|contains|all', ['-enc', 'hidden'], 'ps -Enc x')).toBe(false);
    expect(test('roles|all', ['a', 'b'], { roles: ['b', 'a'] })).toBe(true);
    expect(test('roles|all', ['a', 'b'], { roles: ['a'] })).toBe(false);
  });

  it('cased matches case-sensitively', () => {
    expect(cmd('|cased', 'Whoami', 'Whoami')).toBe(true);
    expect(cmd('|cased', 'Whoami', 'whoami')).toBe(false);
    expect(cmd('|contains|cased', 'EVIL', 'so EVIL')).toBe(true);
    expect(cmd('|contains|cased', 'EVIL', 'so evil')).toBe(false);
    expect(cmd('|cased', 'a?c', 'aXc')).toBe(true);
    expect(cmd('|cased', 'a?c', 'AXC')).toBe(false);
  });
});

describe('re', () => {
  it('searches, case-sensitively by default', () => {
    expect(cmd('|re', 'ab+c', 'xxabbbcxx')).toBe(true);
    expect(cmd('|re', 'ab+c', 'ABBC')).toBe(false);
    expect(cmd('|re', '^ab$', 'xab')).toBe(false);
  });

  it('takes i, m, s and a leading (?i)', () => {
    expect(cmd('|re|i', 'ab+c', 'ABBC')).toBe(true);
    expect(cmd('|re', '(?i)ab+c', 'ABBC')).toBe(true);
    expect(cmd('|re|m', '^two$', 'one\ntwo\nthree')).toBe(true);
    expect(cmd('|re', '^two$', 'one\ntwo\nthree')).toBe(false);
    expect(cmd('|re|s', 'one.two', 'one\ntwo')).toBe(true);
    expect(cmd('|re', 'one.two', 'one\ntwo')).toBe(false);
  });
});

describe('cidr', () => {
  it('matches IPv4 networks', () => {
    expect(test('ip|cidr', '10.0.0.0/8', { ip: '10.200.3.4' })).toBe(true);
    expect(test('ip|cidr', '10.0.0.0/8', { ip: '11.0.0.1' })).toBe(false);
    expect(test('ip|cidr', '192.168.1.0/26', { ip: '192.168.1.63' })).toBe(true);
    expect(test('ip|cidr', '192.168.1.0/26', { ip: '192.168.1.64' })).toBe(false);
    expect(test('ip|cidr', '0.0.0.0/0', { ip: '8.8.8.8' })).toBe(true);
    expect(test('ip|cidr', ['1.1.1.1/32', '10.0.0.0/8'], { ip: ['9.9.9.9', '1.1.1.1'] })).toBe(true);
    expect(test('ip|cidr', '10.0.0.0/8', { ip: 'not-an-ip' })).toBe(false);
    expect(test('ip|cidr', '10.0.0.0/8', { ip: 'fe80::1' })).toBe(false);
  });

  it('matches IPv6 networks', () => {
    expect(test('ip|cidr', '2001:db8::/32', { ip: '2001:DB8:1::5' })).toBe(true);
    expect(test('ip|cidr', '2001:db8::/32', { ip: '2001:db9::5' })).toBe(false);
    expect(test('ip|cidr', 'fe80::/10', { ip: 'febf::1' })).toBe(true);
    expect(test('ip|cidr', 'fe80::/10', { ip: 'fec0::1' })).toBe(false);
    expect(test('ip|cidr', '::ffff:0:0/96', { ip: '::ffff:10.1.2.3' })).toBe(true);
  });

  it('parses addresses strictly', () => {
    const out = new Uint16Array(8);
    expect(parseIp('1.2.3', out)).toBe(0);
    expect(parseIp('1.2.3.256', out)).toBe(0);
    expect(parseIp('1::2::3', out)).toBe(0);
    expect(parseIp('1:2:3:4:5:6:7:8', out)).toBe(8);
    expect(parseIp('1:2:3:4:5:6:7', out)).toBe(0);
  });
});

describe('encodings', () => {
  it('base64 encodes the value, case-sensitively', () => {
    expect(cmd('|base64', 'secret', b64('secret'))).toBe(true);
    expect(cmd('|base64|contains', 'secret', `x ${b64('secret')} y`)).toBe(true);
    expect(cmd('|base64', 'secret', b64('secret').toLowerCase())).toBe(false);
  });

  it('base64offset gives the three encodings of the spec example', () => {
    expect(base64Offsets([...Buffer.from('/bin/bash')])).toEqual([
      'L2Jpbi9iYXNo',
      '9iaW4vYmFza',
      'vYmluL2Jhc2',
    ]);
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      expect(cmd('|base64offset|contains', '/bin/bash', b64(`${prefix}/bin/bash -c id`))).toBe(true);
    }
    expect(cmd('|base64offset|contains', '/bin/bash', b64('/bin/sh -c id'))).toBe(false);
  });

  it('wide / utf16le / utf16be / utf16 encode as the spec shows', () => {
    const le = Buffer.from([0x63, 0, 0x6d, 0, 0x64, 0]).toString('latin1');
    expect(cmd('|wide', 'cmd', le)).toBe(true);
    expect(cmd('|utf16le', 'cmd', le)).toBe(true);
    expect(cmd('|utf16be', 'cmd', Buffer.from([0, 0x63, 0, 0x6d, 0, 0x64]).toString('latin1'))).toBe(true);
    expect(
      cmd('|utf16', 'cmd', Buffer.from([0xff, 0xfe, 0x63, 0, 0x6d, 0, 0x64, 0]).toString('latin1')),
    ).toBe(true);
    expect(cmd('|wide', 'cmd', 'cmd')).toBe(false);
  });

  it('chains wide then base64 (PowerShell -EncodedCommand)', () => {
    const encoded = Buffer.from('Invoke-Mimikatz', 'utf16le').toString('base64');
    expect(cmd('|wide|base64', 'Invoke-Mimikatz', encoded)).toBe(true);
    expect(cmd('|wide|base64offset|contains', 'Mimikatz', `powershell -enc ${encoded}`)).toBe(true);
    expect(cmd('|base64offset|contains', 'Mimikatz', `powershell -enc ${encoded}`)).toBe(false);
  });
});

describe('windash', () => {
  it('matches every dash variant of the spec', () => {
    for (const dash of ['-', '/', '\u2013', '\u2014', '\u2015']) {
      expect(cmd('|windash|contains', ' -exec bypass', `ps ${dash}exec bypass`)).toBe(true);
    }
    expect(cmd('|windash|contains', ' -exec bypass', 'ps +exec bypass')).toBe(false);
    expect(cmd('|windash|contains|all', ['-a', '/b'], 'x /a -b')).toBe(true);
  });

  it('expands before an encoding', () => {
    expect(cmd('|windash|base64', '-a', b64('/a'))).toBe(true);
    expect(cmd('|windash|base64', '-a', b64('\u2014a'))).toBe(true);
  });
});

describe('numbers and neq', () => {
  it('compares numbers', () => {
    expect(test('n|gt', 1000, { n: 1200 })).toBe(true);
    expect(test('n|gt', 1000, { n: 1000 })).toBe(false);
    expect(test('n|gte', 1000, { n: 1000 })).toBe(true);
    expect(test('n|lt', 10, { n: '9' })).toBe(true);
    expect(test('n|lte', 10, { n: 11 })).toBe(false);
    expect(test('n|lt', 10, { n: 'abc' })).toBe(false);
    expect(test('n|gt', 1, {})).toBe(false);
  });

  it('neq needs the field present and different from every value', () => {
    expect(test('u|neq', 'root', { u: 'dana' })).toBe(true);
    expect(test('u|neq', 'root', { u: 'ROOT' })).toBe(false);
    expect(test('u|neq|cased', 'root', { u: 'ROOT' })).toBe(true);
    expect(test('u|neq', ['root', 'admin'], { u: 'admin' })).toBe(false);
    expect(test('u|neq', 5, { u: 6 })).toBe(true);
    expect(test('u|neq', 'root', {})).toBe(false);
    expect(test('u|neq', 'root', { u: ['dana', 'root'] })).toBe(false);
  });
});

describe('time modifiers', () => {
  it('extracts UTC parts of a date', () => {
    expect(test('@timestamp|hour', 10, {})).toBe(true);
    expect(test('@timestamp|minute', 4, {})).toBe(true);
    expect(test('@timestamp|day', 2, {})).toBe(true);
    expect(test('@timestamp|month', 3, {})).toBe(true);
    expect(test('@timestamp|year', 2026, {})).toBe(true);
    expect(test('@timestamp|week', 10, {})).toBe(true);
    expect(test('@timestamp|hour|gte', 18, {})).toBe(false);
    expect(test('@timestamp|hour|lt', 18, {})).toBe(true);
    expect(test('t|hour', 0, { t: 86_400_000 })).toBe(true);
  });
});

describe('fieldref', () => {
  it('compares two fields', () => {
    expect(test('a|fieldref', 'b', { a: 'X', b: 'x' })).toBe(true);
    expect(test('a|fieldref', 'b', { a: 'x', b: 'y' })).toBe(false);
    expect(test('a|fieldref|cased', 'b', { a: 'X', b: 'x' })).toBe(false);
    expect(test('a|fieldref|neq', 'b', { a: 'x', b: 'y' })).toBe(true);
    expect(test('a|fieldref|neq', 'b', { a: 'x', b: 'X' })).toBe(false);
    expect(test('a|fieldref', 'b', { a: 'x' })).toBe(false);
    expect(
      test('user.name|fieldref', 'user.target.name', { user: { name: 'd', target: { name: 'D' } } }),
    ).toBe(true);
  });
});

describe('expand', () => {
  const placeholders = { Admins: ['root', 'adm*'], Host: 'web1' };
  it('replaces placeholders with their values', () => {
    expect(test('u|expand', '%Admins%', { u: 'root' }, placeholders)).toBe(true);
    expect(test('u|expand', '%Admins%', { u: 'admin2' }, placeholders)).toBe(true);
    expect(test('u|expand', '%Admins%', { u: 'dana' }, placeholders)).toBe(false);
    expect(test('h|expand', '%Host%.shop', { h: 'web1.shop' }, placeholders)).toBe(true);
    expect(test('h|expand', '\\%Host%', { h: '%Host%' }, placeholders)).toBe(true);
    expect(test('h', '%Host%', { h: '%Host%' }, placeholders)).toBe(true);
  });

  it('rejects an unknown placeholder', () => {
    expect(() => test('u|expand', '%Nope%', {}, placeholders)).toThrow(
      'detection.sel.u|expand: unknown placeholder %Nope%; known: Admins, Host',
    );
  });
});

describe('keywords', () => {
  const kw = (value: unknown, fields: Record<string, unknown>, key = '') =>
    compileFieldMatcher(key, value, 'detection.keywords').test(ev(fields));
  it('search every leaf value of the event', () => {
    expect(kw(['EVILSERVICE', 'svchost.exe -n evil'], { service: { name: 'x evilservice y' } })).toBe(true);
    expect(kw(['evil'], { a: [{ b: 'not EVIL' }] })).toBe(true);
    expect(kw([1200], { firebreak: { records: 1200 } })).toBe(true);
    expect(kw(['evil'], { a: 'good' })).toBe(false);
  });

  it('|all requires every keyword', () => {
    expect(
      kw(['OabVirtualDirectory', ' -ExternalUrl '], { m: 'Set-OabVirtualDirectory -ExternalUrl x' }, '|all'),
    ).toBe(true);
    expect(kw(['OabVirtualDirectory', ' -ExternalUrl '], { m: 'Set-OabVirtualDirectory' }, '|all')).toBe(
      false,
    );
  });
});

describe('invalid items', () => {
  it.each([
    ['cmd|nope', 'x', 'detection.sel.cmd|nope: unknown modifier "nope"'],
    ['cmd|contains|contains', 'x', 'modifier "contains" is given twice'],
    ['cmd|contains|endswith', 'x', '"contains" and "endswith" contradict each other; use one'],
    ['cmd|all', 'x', '"all" needs a list of at least two values'],
    ['cmd|i', 'x', '"i" is a sub-modifier of "re" and must follow it'],
    ['cmd|re|contains', 'x', '"re" cannot be combined with "contains"'],
    ['cmd|re', '(', 'invalid regular expression'],
    ['cmd|cidr', '10.0.0.0/33', 'expected an IPv4 or IPv6 network'],
    ['cmd|cidr|contains', '10.0.0.0/8', '"cidr" cannot be combined with "contains"'],
    ['cmd|exists', 'yes', '"exists" expects true or false, got "yes"'],
    ['cmd|exists|cased', true, '"exists" cannot be combined with "cased"'],
    ['cmd|gt', '5', '"gt" expects a number, got "5"'],
    ['cmd|gt|lt', 5, 'only one comparison is allowed'],
    ['cmd|gt|contains', 5, '"gt" cannot be combined with "contains"'],
    ['cmd|base64|base64offset', 'x', '"base64" and "base64offset" contradict each other'],
    ['cmd|base64|wide', 'x', '"wide" must come before "base64"'],
    ['cmd|wide|utf16be', 'x', 'only one UTF-16 encoding is allowed'],
    ['cmd|contains|base64', 'x', 'cannot encode a value with wildcards'],
    ['cmd|base64', 'a*', 'cannot encode a value with wildcards'],
    ['cmd|fieldref|contains', 'x', '"fieldref" cannot be combined with "contains"'],
    ['cmd|fieldref', 5, '"fieldref" expects a field name, got 5'],
    ['cmd|contains', null, 'null cannot take modifiers'],
    ['cmd', [], 'the list of values is empty'],
    ['cmd', { a: 1 }, 'expected a value, got a map'],
    ['|exists', true, '"exists" needs a field name'],
    ['cmd|hour|day', 1, 'only one time modifier is allowed'],
  ])('rejects %s: %j', (key, value, message) => {
    expect(() => compileFieldMatcher(key, value, `detection.sel.${key}`)).toThrow(message);
    try {
      compileFieldMatcher(key, value, `detection.sel.${key}`);
    } catch (error) {
      expect(error).toMatchObject({
        code: 'FB_ERR_RULE_INVALID',
        kind: 'invalid',
        params: { where: `detection.sel.${key}` },
      });
    }
  });
});
