import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FirebreakError } from '../kernel/index.js';
import { type Deadline, dueAt, loadPolicyFile, parsePolicy, type ResponsePolicy } from './response-policy.js';

const KCT_FILE = fileURLToPath(new URL('../../policies/kct-menswear.yaml', import.meta.url));
const CREATORFLOW_FILE = fileURLToPath(new URL('../../policies/creatorflow.yaml', import.meta.url));
const KCT_TEXT = readFileSync(KCT_FILE, 'utf8');

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const minutes = (n: number): Deadline => ({ kind: 'duration', ms: n * MINUTE });
const BUSINESS_HOURS: Deadline = { kind: 'business_hours' };
const FOUR_ROLES = ['communications_lead', 'incident_commander', 'security_lead', 'technical_lead'];

/** Replaces the one occurrence of `from`; fails the test when the fixture does not contain it exactly once. */
function edit(text: string, from: string | RegExp, to: string): string {
  const pattern =
    typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : from;
  const matches = [...text.matchAll(new RegExp(pattern.source, 'gm'))];
  if (matches.length !== 1)
    throw new Error(`fixture must contain ${String(from)} once, found ${matches.length}`);
  const at = matches[0]!.index;
  return text.slice(0, at) + to + text.slice(at + matches[0]![0].length);
}

/** The business hours' closing line, however the file quotes it. */
const BUSINESS_END = /^ {2}end: ["']18:00["']\n/;

/** 1-based line of the one line that contains `needle` (the fixture decides the expected line, not the code). */
function lineContaining(text: string, needle: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((line, i) => (line.includes(needle) ? [i + 1] : []));
  if (hits.length !== 1)
    throw new Error(`expected one line containing ${JSON.stringify(needle)}, found ${hits.length}`);
  return hits[0]!;
}

/** 1-based line of the first line that is exactly `line` (for keys such as `  P1:` that recur later). */
function firstLineEqualTo(text: string, line: string): number {
  const index = text.split('\n').indexOf(line);
  if (index < 0) throw new Error(`no line ${JSON.stringify(line)}`);
  return index + 1;
}

function policyError(text: string, file = 'policies/bad.yaml'): FirebreakError {
  try {
    parsePolicy(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(FirebreakError);
    return error as FirebreakError;
  }
  throw new Error('expected the policy to be refused');
}

/** Asserts an FB_ERR_POLICY_INVALID whose headline names file:line and the path. */
function expectInvalid(
  text: string,
  expected: { line: number; path: string; message?: RegExp },
): FirebreakError {
  const error = policyError(text);
  expect(error.code).toBe('FB_ERR_POLICY_INVALID');
  expect(error.kind).toBe('invalid');
  expect(error.params.file).toBe('policies/bad.yaml');
  expect(error.params.line).toBe(expected.line);
  expect(error.message.startsWith(`policies/bad.yaml:${expected.line}: `)).toBe(true);
  const detail = error.details.find((d) => d.path === expected.path);
  expect(detail, `a detail for ${expected.path} in ${JSON.stringify(error.details)}`).toBeDefined();
  expect(detail!.line).toBe(expected.line);
  if (expected.message) expect(detail!.message).toMatch(expected.message);
  return error;
}

describe('the shipped KCT Menswear policy', () => {
  const kct = loadPolicyFile(KCT_FILE);

  it('has the plan’s response times (section 2)', () => {
    expect(kct.name).toBe('KCT Menswear');
    expect(kct.file).toBe(KCT_FILE);
    expect(kct.timeZone).toBe('UTC');
    expect(kct.severities.P0.responseTime).toEqual(minutes(15));
    expect(kct.severities.P1.responseTime).toEqual(minutes(30));
    expect(kct.severities.P2.responseTime).toEqual(minutes(120));
    expect(kct.severities.P3.responseTime).toEqual(BUSINESS_HOURS);
  });

  it('acknowledges P0–P2 within 2 minutes, and P3 within business hours', () => {
    expect(kct.severities.P0.acknowledgeWithin).toEqual(minutes(2));
    expect(kct.severities.P1.acknowledgeWithin).toEqual(minutes(2));
    expect(kct.severities.P2.acknowledgeWithin).toEqual(minutes(2));
    expect(kct.severities.P3.acknowledgeWithin).toEqual(BUSINESS_HOURS);
  });

  it('escalates like the plan’s escalation matrix, to the right people', () => {
    const matrix = Object.fromEntries(
      Object.entries(kct.escalation).map(([sev, steps]) => [
        sev,
        steps.map((s) => ({ withinMs: s.withinMs, notify: [...s.notify].sort() })),
      ]),
    );
    expect(matrix).toEqual({
      P0: [{ withinMs: 0, notify: ['ceo', 'cto', ...FOUR_ROLES].sort() }],
      P1: [{ withinMs: 15 * MINUTE, notify: ['cto', ...FOUR_ROLES].sort() }],
      P2: [{ withinMs: HOUR, notify: ['security_lead', 'technical_lead'] }],
      P3: [{ withinMs: 4 * HOUR, notify: ['security_lead'] }],
    });
  });

  it('names the core team of section 1 and the regulatory clocks of section 8', () => {
    expect(kct.roles.incident_commander).toMatchObject({
      primary: 'CTO/Security Lead',
      backup: 'Senior DevOps Engineer',
    });
    expect(kct.roles.security_lead).toMatchObject({
      primary: 'CISO/Senior Security Engineer',
      backup: 'Lead Developer',
    });
    expect(kct.roles.technical_lead).toMatchObject({
      primary: 'Senior Full-Stack Developer',
      backup: 'DevOps Engineer',
    });
    expect(kct.roles.communications_lead).toMatchObject({
      primary: 'Customer Success Manager',
      backup: 'Marketing Manager',
    });
    const clocks = Object.fromEntries(kct.regulatoryClocks.map((c) => [c.id, c.withinMs]));
    expect(clocks).toEqual({
      gdpr_supervisory_authority: 72 * HOUR,
      pci_dss_acquirer: 0,
      state_breach_notice: 30 * 24 * HOUR,
    });
  });

  it('has Mon–Fri 09:00–18:00 business hours and is frozen', () => {
    expect(kct.businessHours).toEqual({
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      startMinute: 9 * 60,
      endMinute: 18 * 60,
      timeZone: 'UTC',
    });
    expect(Object.isFrozen(kct)).toBe(true);
    expect(Object.isFrozen(kct.severities.P0)).toBe(true);
  });
});

describe('the shipped CreatorFlow policy', () => {
  const cf = loadPolicyFile(CREATORFLOW_FILE);

  it('has the plan’s response times, and acknowledgement defaults to them', () => {
    expect(cf.name).toBe('CreatorFlow');
    expect(cf.severities.P0.responseTime).toEqual(minutes(5));
    expect(cf.severities.P1.responseTime).toEqual(minutes(60));
    expect(cf.severities.P2.responseTime).toEqual(minutes(4 * 60));
    expect(cf.severities.P3.responseTime).toEqual(minutes(24 * 60));
    for (const sev of ['P0', 'P1', 'P2', 'P3'] as const) {
      expect(cf.severities[sev].acknowledgeWithin).toEqual(cf.severities[sev].responseTime);
    }
  });

  it('tells legal about a P0 at once and has the 24-hour creator notice', () => {
    expect(cf.escalation.P0[0]!.withinMs).toBe(0);
    expect(cf.escalation.P0[0]!.notify).toContain('legal');
    expect(cf.escalation.P3).toEqual([{ withinMs: 24 * HOUR, notify: ['security_lead'] }]);
    expect(cf.regulatoryClocks).toEqual([
      expect.objectContaining({ id: 'creator_notice', withinMs: 24 * HOUR }),
    ]);
  });
});

describe('loading a policy that cannot be read', () => {
  it('gives FB_ERR_POLICY_UNREADABLE naming the file', () => {
    const missing = fileURLToPath(new URL('../../policies/does-not-exist.yaml', import.meta.url));
    expect(() => loadPolicyFile(missing)).toThrowError(
      expect.objectContaining({
        code: 'FB_ERR_POLICY_UNREADABLE',
        message: expect.stringContaining(missing),
      }),
    );
  });
});

describe('a bad policy gives FB_ERR_POLICY_INVALID with the line and the path', () => {
  it('accepts the unedited fixture (so every refusal below comes from the edit)', () => {
    expect(parsePolicy(KCT_TEXT, 'policies/bad.yaml').name).toBe('KCT Menswear');
  });

  it('YAML syntax error', () => {
    const text = edit(KCT_TEXT, '    response_time: 30m\n', '    response_time: 30m: oops\n');
    expectInvalid(text, { line: lineContaining(text, '30m: oops'), path: '' });
  });

  it('duplicate key', () => {
    const text = edit(KCT_TEXT, 'name: KCT Menswear\n', 'name: KCT Menswear\nname: KCT again\n');
    expectInvalid(text, { line: lineContaining(text, 'name: KCT again'), path: '', message: /unique/ });
  });

  it('unknown field', () => {
    const text = edit(KCT_TEXT, '    color: red\n', '    color: red\n    colour: red\n');
    expectInvalid(text, {
      line: lineContaining(text, 'colour: red'),
      path: 'severities.P0.colour',
      message: /not a known field/,
    });
  });

  it('missing field: reported at the object that lacks it', () => {
    const text = edit(KCT_TEXT, '    definition: Response within 30 minutes\n', '');
    expectInvalid(text, {
      line: firstLineEqualTo(text, '  P1:'),
      path: 'severities.P1.definition',
      message: /required/,
    });
  });

  it('bad duration in a response time', () => {
    const text = edit(KCT_TEXT, '    response_time: 2h\n', '    response_time: 2 hours\n');
    expectInvalid(text, {
      line: lineContaining(text, 'response_time: 2 hours'),
      path: 'severities.P2.response_time',
      message: /duration such as/,
    });
  });

  it('bad duration in an escalation step', () => {
    const text = edit(KCT_TEXT, '    - within: 1h\n', '    - within: 1 hour\n');
    expectInvalid(text, { line: lineContaining(text, '1 hour'), path: 'escalation.P2.0.within' });
  });

  it('bad time zone, at the top and in a window', () => {
    const top = edit(KCT_TEXT, 'time_zone: UTC\n', 'time_zone: Mars/Olympus_Mons\n');
    expectInvalid(top, { line: lineContaining(top, 'Mars/'), path: 'time_zone', message: /IANA time zone/ });

    const inWindow = edit(KCT_TEXT, BUSINESS_END, "  end: '18:00'\n  time_zone: Europe/Atlantis\n");
    expectInvalid(inWindow, {
      line: lineContaining(inWindow, 'Europe/Atlantis'),
      path: 'business_hours.time_zone',
      message: /IANA/,
    });
  });

  it('unknown escalation target', () => {
    const text = edit(
      KCT_TEXT,
      '      notify: [security_lead]\n',
      '      notify: [security_lead, janitor]\n',
    );
    expectInvalid(text, {
      line: lineContaining(text, 'janitor'),
      path: 'escalation.P3.0.notify.1',
      message: /"janitor" is neither a response role/,
    });
  });

  it('acknowledgement longer than the response time: at is fine, just over is refused', () => {
    const p0 = '    response_time: 15m\n    acknowledge_within: 2m\n';
    const at = edit(KCT_TEXT, p0, '    response_time: 15m\n    acknowledge_within: 15m\n');
    expect(parsePolicy(at, 'x.yaml').severities.P0.acknowledgeWithin).toEqual(minutes(15));

    const over = edit(KCT_TEXT, p0, '    response_time: 15m\n    acknowledge_within: 15m1s\n');
    expectInvalid(over, {
      line: lineContaining(over, '15m1s'),
      path: 'severities.P0.acknowledge_within',
      message: /not be longer than the response_time \(15m\)/,
    });

    const loosest = edit(KCT_TEXT, p0, '    response_time: 15m\n    acknowledge_within: business_hours\n');
    expectInvalid(loosest, {
      line: lineContaining(loosest, 'acknowledge_within: business_hours'),
      path: 'severities.P0.acknowledge_within',
    });
  });

  it('a lower severity faster than a higher one: equal is fine, one minute faster is refused', () => {
    const equal = edit(KCT_TEXT, '    response_time: 30m\n', '    response_time: 15m\n');
    expect(parsePolicy(equal, 'x.yaml').severities.P1.responseTime).toEqual(minutes(15));

    const faster = edit(KCT_TEXT, '    response_time: 30m\n', '    response_time: 14m\n');
    expectInvalid(faster, {
      line: lineContaining(faster, 'response_time: 14m'),
      path: 'severities.P1.response_time',
      message: /shorter than P0's \(15m\)/,
    });
  });

  it('a window whose end is not after its start: one minute after is fine, equal or before is refused', () => {
    const after = edit(KCT_TEXT, BUSINESS_END, "  end: '09:01'\n");
    expect(parsePolicy(after, 'x.yaml').businessHours.endMinute).toBe(9 * 60 + 1);

    for (const end of ['09:00', '08:00']) {
      const text = edit(KCT_TEXT, BUSINESS_END, `  end: '${end}'\n`);
      expectInvalid(text, {
        line: lineContaining(text, `end: '${end}'`),
        path: 'business_hours.end',
        message: /after start/,
      });
    }
  });

  it('reports every problem, the first one as the headline', () => {
    const text = edit(
      edit(KCT_TEXT, 'time_zone: UTC\n', 'time_zone: Nowhere\n'),
      '      notify: [security_lead]\n',
      '      notify: [janitor]\n',
    );
    const error = expectInvalid(text, {
      line: lineContaining(text, 'time_zone: Nowhere'),
      path: 'time_zone',
    });
    expect(error.details.map((d) => d.path)).toEqual(['time_zone', 'escalation.P3.0.notify.0']);
    expect(error.message).toContain('(and 1 more problem(s))');
  });
});

describe('dueAt', () => {
  const kct = loadPolicyFile(KCT_FILE);
  const due = (policy: ResponsePolicy, at: string, deadline: Deadline = BUSINESS_HOURS) =>
    dueAt(policy, new Date(at), deadline).toISOString();
  const inZone = (zone: string, text = KCT_TEXT) =>
    parsePolicy(edit(text, 'time_zone: UTC\n', `time_zone: ${zone}\n`), 'x');

  it('adds a fixed duration exactly', () => {
    expect(due(kct, '2026-03-04T10:00:00.000Z', kct.severities.P0.responseTime)).toBe(
      '2026-03-04T10:15:00.000Z',
    );
    expect(due(kct, '2026-03-07T23:59:00.000Z', kct.severities.P2.responseTime)).toBe(
      '2026-03-08T01:59:00.000Z',
    );
  });

  // 2026-03-04 is a Wednesday; 2026-03-06 a Friday; 2026-03-09 a Monday.
  it.each([
    ['inside business hours', '2026-03-04T10:00:00.000Z', '2026-03-04T18:00:00.000Z'],
    ['at the start of business hours', '2026-03-04T09:00:00.000Z', '2026-03-04T18:00:00.000Z'],
    ['a weekday before opening', '2026-03-04T08:59:59.999Z', '2026-03-04T18:00:00.000Z'],
    ['one ms before closing', '2026-03-04T17:59:59.999Z', '2026-03-04T18:00:00.000Z'],
    ['Wednesday at closing (end is exclusive)', '2026-03-04T18:00:00.000Z', '2026-03-05T18:00:00.000Z'],
    ['Friday one ms before closing', '2026-03-06T17:59:59.999Z', '2026-03-06T18:00:00.000Z'],
    ['Friday 18:00 exactly', '2026-03-06T18:00:00.000Z', '2026-03-09T18:00:00.000Z'],
    ['Saturday', '2026-03-07T12:00:00.000Z', '2026-03-09T18:00:00.000Z'],
    ['the last ms of Sunday', '2026-03-08T23:59:59.999Z', '2026-03-09T18:00:00.000Z'],
  ])('business_hours, %s', (_name, at, expected) => {
    expect(due(kct, at, kct.severities.P3.responseTime)).toBe(expected);
  });

  describe('in America/New_York', () => {
    const ny = inZone('America/New_York');

    it('uses local business hours, not UTC ones', () => {
      // Friday 17:30 EST is 22:30 UTC: after 18:00 UTC, but still inside New York's business day.
      expect(due(ny, '2026-03-06T22:30:00.000Z')).toBe('2026-03-06T23:00:00.000Z');
      // Sunday 23:00 EDT is already Monday in UTC.
      expect(due(ny, '2026-03-09T03:00:00.000Z')).toBe('2026-03-09T22:00:00.000Z');
    });

    it('crosses the spring-forward weekend: Friday 18:00 EST → Monday 18:00 EDT', () => {
      expect(due(ny, '2026-03-06T23:00:00.000Z')).toBe('2026-03-09T22:00:00.000Z');
      expect(due(ny, '2026-03-06T22:59:59.999Z')).toBe('2026-03-06T23:00:00.000Z');
    });

    it('crosses the fall-back weekend: Friday 18:00 EDT → Monday 18:00 EST', () => {
      expect(due(ny, '2026-10-30T22:00:00.000Z')).toBe('2026-11-02T23:00:00.000Z');
    });

    it('ends a business day that is itself the day the clocks change at its local closing time', () => {
      const everyDay = inZone(
        'America/New_York',
        edit(
          KCT_TEXT,
          '  days: [mon, tue, wed, thu, fri]\n  start',
          '  days: [mon, tue, wed, thu, fri, sat, sun]\n  start',
        ),
      );
      // Sunday 2026-03-08 (23 hours long) and Sunday 2026-11-01 (25 hours long): closing is 18:00 local.
      expect(due(everyDay, '2026-03-08T16:00:00.000Z')).toBe('2026-03-08T22:00:00.000Z');
      expect(due(everyDay, '2026-11-01T16:00:00.000Z')).toBe('2026-11-01T23:00:00.000Z');
    });
  });

  it('uses the business hours’ own time zone when they name one', () => {
    const tokyo = parsePolicy(edit(KCT_TEXT, BUSINESS_END, "  end: '18:00'\n  time_zone: Asia/Tokyo\n"), 'x');
    // Monday 17:00 JST (08:00 UTC) → 18:00 JST, 09:00 UTC.
    expect(due(tokyo, '2026-03-09T08:00:00.000Z')).toBe('2026-03-09T09:00:00.000Z');
    // Monday 18:00 JST exactly → Tuesday 18:00 JST.
    expect(due(tokyo, '2026-03-09T09:00:00.000Z')).toBe('2026-03-10T09:00:00.000Z');
  });
});
