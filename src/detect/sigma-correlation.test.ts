/**
 * Sigma correlations end to end: YAML text → loadRules → DetectionEngine → alerts, one
 * correlation type (and one Firebreak addition) at a time, over ECS events. Every alert is
 * asserted whole but for its title and fingerprint; times are ms after T0, `trigger` is the
 * index, as written, of the event that raised it. Events are fed in time order (a stable sort,
 * so a test may write one group's events after another's).
 */
import { describe, expect, it } from 'vitest';
import type { EcsEvent } from '../events/index.js';
import type { Alert } from './alert.js';
import { DetectionEngine } from './detection-engine.js';
import { ruleFile } from './rule-fixtures.case.js';
import { loadRules } from './rule-loader.js';

const T0 = Date.parse('2026-03-02T12:00:00Z'); // a Monday
const SEC = 1000;
const MIN = 60 * SEC;

type Fields = Record<string, unknown>;
/** An input event: its time in ms after T0 and its fields, named dotted. */
type Input = readonly [at: number, fields: Fields];

/** A nested ECS event from dotted field names. */
function ecs(epochMs: number, fields: Fields): EcsEvent {
  const event: Record<string, unknown> = { '@timestamp': new Date(epochMs).toISOString() };
  for (const [name, value] of Object.entries(fields)) {
    const keys = name.split('.');
    let node = event;
    for (const key of keys.slice(0, -1)) {
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
    node[keys.at(-1)!] = value;
  }
  return event as EcsEvent;
}

interface Seen {
  rule: string;
  severity: string;
  group: Record<string, string>;
  value: number;
  start: number;
  end: number;
  events: number;
  trigger: unknown;
}

const seen = (a: Alert): Seen => ({
  rule: a.rule,
  severity: a.severity,
  group: { ...a.group },
  value: a.value,
  start: a.start - T0,
  end: a.end - T0,
  events: a.events,
  trigger: a.trigger,
});

/** Loads `yaml` as one rule file and runs `inputs` through a fresh engine in time order. */
function run(yaml: string, inputs: readonly Input[]) {
  const engine = new DetectionEngine(loadRules([ruleFile('sigma.yml', yaml)]));
  const ordered = inputs.map((input, i) => [input, i] as const).sort(([a], [b]) => a[0] - b[0]);
  const alerts = ordered.flatMap(([[at, fields], i]) =>
    engine.process(ecs(T0 + at, fields), T0 + at, i).map(seen),
  );
  return { engine, alerts };
}

const detect = (yaml: string, inputs: readonly Input[]) => run(yaml, inputs).alerts;

/** `n` copies of `fields`, `every` ms apart from `from`. */
const series = (n: number, from: number, every: number, fields: Fields): Input[] =>
  Array.from({ length: n }, (_, i) => [from + i * every, fields] as const);

const failedLogin = (user: string | undefined, ip = '203.0.113.9'): Fields => ({
  'event.action': 'login',
  'event.outcome': 'failure',
  ...(user === undefined ? {} : { 'user.name': user }),
  'source.ip': ip,
});
const successfulLogin = (user: string, ip = '198.51.100.7'): Fields => ({
  'event.action': 'login',
  'event.outcome': 'success',
  'user.name': user,
  'source.ip': ip,
});

const FAILED_LOGIN = `
title: Failed login
name: failed_login
level: low
logsource: {category: authentication}
detection:
  selection:
    event.action: login
    event.outcome: failure
  condition: selection
`;

const SUCCESSFUL_LOGIN = `
title: Successful login
name: successful_login
logsource: {category: authentication}
detection:
  selection:
    event.action: login
    event.outcome: success
  condition: selection
`;

/** The failed-login rule and an event_count correlation over it, per user.name in 5 minutes. */
const failuresPerUser = (condition: string) => `
${FAILED_LOGIN}
---
title: Failed logins of one account
id: account-failures
level: medium
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [user.name]
  timespan: 5m
  condition: ${condition}
`;

describe('event_count', () => {
  const gte3 = failuresPerUser('{gte: 3}');

  it('gte: one event short does not alert; the event that reaches the count does', () => {
    const alerts = detect(gte3, [
      [0, failedLogin('ann')],
      [10 * SEC, failedLogin('bob')],
      [20 * SEC, failedLogin('ann')],
      [30 * SEC, failedLogin('bob')],
      [40 * SEC, failedLogin('bob')],
    ]);
    expect(alerts).toEqual([
      {
        rule: 'account-failures',
        severity: 'P2',
        group: { 'user.name': 'bob' },
        value: 3,
        start: 10 * SEC,
        end: 40 * SEC,
        events: 3,
        trigger: 4,
      },
    ]);
  });

  it('gt: the count at the threshold does not alert; one over does', () => {
    const gt3 = failuresPerUser('{gt: 3}');
    expect(detect(gt3, series(3, 0, SEC, failedLogin('ann')))).toEqual([]);
    expect(detect(gt3, series(4, 0, SEC, failedLogin('ann')))).toEqual([
      {
        rule: 'account-failures',
        severity: 'P2',
        group: { 'user.name': 'ann' },
        value: 4,
        start: 0,
        end: 3 * SEC,
        events: 4,
        trigger: 3,
      },
    ]);
  });

  it('counts an event exactly one timespan old, not one a millisecond older', () => {
    const alerts = detect(gte3, [
      [0, failedLogin('ann')],
      [0, failedLogin('bob')],
      [2 * MIN, failedLogin('ann')],
      [2 * MIN, failedLogin('bob')],
      [5 * MIN, failedLogin('ann')],
      [5 * MIN + 1, failedLogin('bob')],
    ]);
    expect(alerts).toEqual([
      {
        rule: 'account-failures',
        severity: 'P2',
        group: { 'user.name': 'ann' },
        value: 3,
        start: 0,
        end: 5 * MIN,
        events: 3,
        trigger: 4,
      },
    ]);
  });

  it('stays quiet for a timespan after an alert, then alerts again while the count holds', () => {
    const alerts = detect(gte3, [
      ...series(4, 0, MIN, failedLogin('ann')), // alerts at 2m; 3m is within the quiet period
      [7 * MIN, failedLogin('ann')], // 2m..7m holds 3 events, but |7m − 2m| ≤ 5m
      [7 * MIN + 1, failedLogin('ann')], // quiet over: 3m, 7m, 7m+1ms
    ]);
    expect(alerts.map((a) => [a.end, a.value, a.start, a.trigger])).toEqual([
      [2 * MIN, 3, 0, 2],
      [7 * MIN + 1, 3, 3 * MIN, 5],
    ]);
  });

  it('does not count an event without the group-by field', () => {
    const { engine, alerts } = run(gte3, [
      [0, failedLogin(undefined)],
      [SEC, failedLogin(undefined)],
      [2 * SEC, failedLogin(undefined)],
    ]);
    expect(alerts).toEqual([]);
    expect(engine.stats().ungrouped).toBe(3);
  });
});

describe('value_count', () => {
  const yaml = `
${FAILED_LOGIN}
---
title: Many accounts tried from one address
id: accounts-per-address
level: high
correlation:
  type: value_count
  rules: [failed_login]
  group-by: [source.ip]
  timespan: 10m
  condition: {field: user.name, gte: 3}
`;

  it('counts distinct users per source.ip; repeats do not add', () => {
    const alerts = detect(yaml, [
      [0, failedLogin('ann', '203.0.113.9')],
      [1 * MIN, failedLogin('bob', '203.0.113.9')],
      [2 * MIN, failedLogin('ann', '203.0.113.9')],
      [3 * MIN, failedLogin('carl', '198.51.100.7')], // another address
      [4 * MIN, failedLogin('bob', '203.0.113.9')],
      [5 * MIN, failedLogin('ann', '203.0.113.9')], // 5 events, 2 users
      [6 * MIN, failedLogin(undefined, '203.0.113.9')], // no user: not counted
      [7 * MIN, failedLogin('carl', '203.0.113.9')],
    ]);
    expect(alerts).toEqual([
      {
        rule: 'accounts-per-address',
        severity: 'P1',
        group: { 'source.ip': '203.0.113.9' },
        value: 3,
        start: 0,
        end: 7 * MIN,
        events: 6,
        trigger: 7,
      },
    ]);
  });

  it('forgets a user who fell out of the timespan', () => {
    const alerts = detect(yaml, [
      [0, failedLogin('ann')],
      [5 * MIN, failedLogin('bob')],
      [10 * MIN + 1, failedLogin('carl')], // ann is 10m + 1ms old
      [11 * MIN, failedLogin('ann')],
    ]);
    expect(alerts).toEqual([
      {
        rule: 'accounts-per-address',
        severity: 'P1',
        group: { 'source.ip': '203.0.113.9' },
        value: 3,
        start: 5 * MIN,
        end: 11 * MIN,
        events: 3,
        trigger: 3,
      },
    ]);
  });
});

describe('value_sum and value_avg', () => {
  const recordsRead = (user: string, records?: number): Fields => ({
    'event.action': 'records_read',
    'user.name': user,
    ...(records === undefined ? {} : { 'firebreak.records': records }),
  });

  const sum = `
title: Customer records read
name: records_read
detection:
  selection: {event.action: records_read}
  condition: selection
---
title: Bulk read of customer records
id: bulk-read
level: critical
correlation:
  type: value_sum
  rules: [records_read]
  group-by: [user.name]
  timespan: 1m
  condition: {field: firebreak.records, gt: 1000}
`;

  it('value_sum: sums the field per group; an event without it adds nothing and is not counted', () => {
    const alerts = detect(sum, [
      [0, recordsRead('ann', 400)],
      [10 * SEC, recordsRead('ann')],
      [20 * SEC, recordsRead('ann', 600)], // 1000: not over
      [30 * SEC, recordsRead('bob', 900)],
      [40 * SEC, recordsRead('ann', 1)],
    ]);
    expect(alerts).toEqual([
      {
        rule: 'bulk-read',
        severity: 'P0',
        group: { 'user.name': 'ann' },
        value: 1001,
        start: 0,
        end: 40 * SEC,
        events: 3,
        trigger: 4,
      },
    ]);
  });

  it('value_sum: a value one timespan and a millisecond old no longer adds', () => {
    const alerts = detect(sum, [
      [0, recordsRead('ann', 600)],
      [0, recordsRead('bob', 600)],
      [MIN, recordsRead('ann', 500)],
      [MIN + 1, recordsRead('bob', 500)],
    ]);
    expect(alerts).toEqual([
      {
        rule: 'bulk-read',
        severity: 'P0',
        group: { 'user.name': 'ann' },
        value: 1100,
        start: 0,
        end: MIN,
        events: 2,
        trigger: 2,
      },
    ]);
  });

  const avg = `
title: HTTP request
name: http_request
detection:
  selection: {event.action: http_request}
  condition: selection
---
title: Slow responses to one client
id: slow-client
correlation:
  type: value_avg
  rules: [http_request]
  group-by: [source.ip]
  timespan: 5m
  condition: {field: event.duration, gt: 2500000000}
`;
  const request = (duration?: number): Fields => ({
    'event.action': 'http_request',
    'source.ip': '203.0.113.9',
    'http.response.status_code': 200,
    ...(duration === undefined ? {} : { 'event.duration': duration }),
  });

  it('value_avg: averages the field per group; an event without it does not lower the mean', () => {
    const alerts = detect(avg, [
      [0, request(1_000_000_000)],
      [SEC, request(3_000_000_000)], // mean 2 s
      [2 * SEC, request()], // counted as 0 it would make the next mean 2.25 s
      [3 * SEC, request(5_000_000_000)], // mean 3 s
    ]);
    expect(alerts).toEqual([
      {
        rule: 'slow-client',
        severity: 'P2',
        group: { 'source.ip': '203.0.113.9' },
        value: 3_000_000_000,
        start: 0,
        end: 3 * SEC,
        events: 3,
        trigger: 3,
      },
    ]);
  });
});

describe('value_percentile', () => {
  const yaml = `
${SUCCESSFUL_LOGIN}
---
title: Login from an address rare for the account
id: rare-login-address
level: low
correlation:
  type: value_percentile
  rules: [successful_login]
  group-by: [user.name]
  timespan: 1d
  condition: {field: source.ip, lte: 1}
`;

  it('alerts on a value carried by at most 1% of the group’s events, not on a common one', () => {
    const alerts = detect(yaml, [
      ...series(99, 0, SEC, successfulLogin('ann', '198.51.100.7')),
      ...series(98, 0, SEC, successfulLogin('bob', '198.51.100.7')),
      [100 * SEC, successfulLogin('ann', '203.0.113.66')], // 1 of 100: 1%
      [100 * SEC, successfulLogin('bob', '203.0.113.66')], // 1 of 99: 1.01%
      [101 * SEC, successfulLogin('bob', '203.0.113.66')], // 2 of 100: 2%
      [102 * SEC, successfulLogin('ann', '198.51.100.7')], // 100 of 101, after the alert
    ]);
    expect(alerts).toEqual([
      {
        rule: 'rare-login-address',
        severity: 'P3',
        group: { 'user.name': 'ann' },
        value: 1,
        start: 0,
        end: 100 * SEC,
        events: 100,
        trigger: 197,
      },
    ]);
  });
});

/** Three account changes by one user; the correlation's `condition` line is `condition`. */
const accountTakeover = (condition: string) => `
title: Password reset
name: password_reset
detection: {selection: {event.action: password_reset}, condition: selection}
---
title: MFA disabled
name: mfa_disabled
detection: {selection: {event.action: mfa_disabled}, condition: selection}
---
title: Email changed
name: email_changed
detection: {selection: {event.action: email_changed}, condition: selection}
---
title: Account takeover
id: account-takeover
level: critical
correlation:
  type: temporal
  rules: [password_reset, mfa_disabled, email_changed]
  group-by: [user.name]
  timespan: 30m
  ${condition}
`;
const change = (action: string, user: string): Fields => ({ 'event.action': action, 'user.name': user });

describe('temporal', () => {
  it('alerts when all rules matched within the timespan, in any order', () => {
    const alerts = detect(accountTakeover(''), [
      [0, change('email_changed', 'ann')],
      [0, change('password_reset', 'bob')],
      [10 * MIN, change('mfa_disabled', 'ann')],
      [10 * MIN, change('mfa_disabled', 'bob')],
      [30 * MIN, change('password_reset', 'ann')], // email_changed exactly 30m before
      [30 * MIN + 1, change('email_changed', 'bob')], // password_reset 30m + 1ms before
    ]);
    expect(alerts).toEqual([
      {
        rule: 'account-takeover',
        severity: 'P0',
        group: { 'user.name': 'ann' },
        value: 3,
        start: 0,
        end: 30 * MIN,
        events: 3,
        trigger: 4,
      },
    ]);
  });

  it('does not alert on one rule matching again and again', () => {
    const alerts = detect(accountTakeover(''), series(5, 0, MIN, change('password_reset', 'ann')));
    expect(alerts).toEqual([]);
  });

  it('with condition gte: 2, two of the three rules suffice', () => {
    const alerts = detect(accountTakeover('condition: {gte: 2}'), [
      [0, change('mfa_disabled', 'ann')],
      [MIN, change('mfa_disabled', 'ann')],
      [5 * MIN, change('password_reset', 'bob')],
      [6 * MIN, change('email_changed', 'ann')],
    ]);
    expect(alerts).toEqual([
      {
        rule: 'account-takeover',
        severity: 'P0',
        group: { 'user.name': 'ann' },
        value: 2,
        start: MIN,
        end: 6 * MIN,
        events: 2,
        trigger: 3,
      },
    ]);
  });
});

describe('temporal_ordered', () => {
  const yaml = `
title: MFA disabled
name: mfa_disabled
detection: {selection: {event.action: mfa_disabled}, condition: selection}
---
title: Payout account changed
name: payout_changed
detection: {selection: {event.action: payout_account_changed}, condition: selection}
---
title: MFA disabled, then the payout account changed
id: payout-hijack
level: high
correlation:
  type: temporal_ordered
  rules: [mfa_disabled, payout_changed]
  group-by: [user.name]
  timespan: 1h
`;

  it('alerts on A then B within the timespan, not on B then A', () => {
    const alerts = detect(yaml, [
      [0, change('payout_account_changed', 'bob')],
      [0, change('mfa_disabled', 'ann')],
      [MIN, change('mfa_disabled', 'bob')], // bob: B then A
      [20 * MIN, change('payout_account_changed', 'ann')],
      [60 * MIN + 1, change('mfa_disabled', 'carl')],
      [120 * MIN + 2, change('payout_account_changed', 'carl')], // 1h + 1ms after A
    ]);
    expect(alerts).toEqual([
      {
        rule: 'payout-hijack',
        severity: 'P1',
        group: { 'user.name': 'ann' },
        value: 2,
        start: 0,
        end: 20 * MIN,
        events: 2,
        trigger: 3,
      },
    ]);
  });

  it('B then A then B alerts at the second B', () => {
    const alerts = detect(yaml, [
      [0, change('payout_account_changed', 'ann')],
      [MIN, change('mfa_disabled', 'ann')],
      [2 * MIN, change('payout_account_changed', 'ann')],
    ]);
    expect(alerts.map((a) => [a.rule, a.start, a.end, a.value, a.trigger])).toEqual([
      ['payout-hijack', MIN, 2 * MIN, 2, 2],
    ]);
  });

  /**
   * The specification's example ("Failed Logins Followed by Successful Login"): one file of four
   * documents, the correlation first, rules referenced by `name`, an event_count correlation
   * chained into a temporal_ordered one. Windows fields become ECS: `User` → `user.name`,
   * `EventID` → `event.code`.
   */
  const specExample = (generate: string) => `
title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - user.name
    timespan: 10m
    ${generate}
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - user.name
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        event.code:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        event.code:
            - 528
            - 4624
    condition: selection
`;
  const logon = (code: string, user: string): Fields => ({
    'event.code': code,
    'event.action': code === '4625' ? 'logon-failed' : 'logged-in',
    'event.outcome': code === '4625' ? 'failure' : 'success',
    'user.name': user,
  });

  it('the specification’s example: ten failed logins, then a successful one, chained', () => {
    const alerts = detect(specExample(''), [
      ...series(10, 0, 30 * SEC, logon('4625', 'ann')), // the 10th at 4m30s
      ...series(9, 0, 30 * SEC, logon('4625', 'bob')), // one short
      [5 * MIN, logon('4624', 'bob')],
      [6 * MIN, logon('4624', 'ann')],
      [6 * MIN, logon('4624', 'carl')], // carl: success first
      ...series(10, 7 * MIN, SEC, logon('4625', 'carl')),
    ]);
    expect(alerts).toEqual([
      {
        rule: 'b180ead8-d58f-40b2-ae54-c8940995b9b6',
        severity: 'P1',
        group: { 'user.name': 'ann' },
        value: 2,
        start: 4 * MIN + 30 * SEC, // the event_count correlation's alert
        end: 6 * MIN,
        events: 2,
        trigger: 20,
      },
    ]);
  });

  it('the specification’s example: the success must follow the chained alert within the timespan', () => {
    const alerts = detect(specExample(''), [
      ...series(10, 0, SEC, logon('4625', 'ann')), // event_count alerts at 9s
      ...series(10, 0, SEC, logon('4625', 'bob')),
      [9 * SEC + 10 * MIN, logon('4624', 'ann')], // exactly 10m later
      [9 * SEC + 10 * MIN + 1, logon('4624', 'bob')], // 10m + 1ms later
    ]);
    expect(alerts.map((a) => [a.group, a.start, a.end])).toEqual([
      [{ 'user.name': 'ann' }, 9 * SEC, 9 * SEC + 10 * MIN],
    ]);
  });

  it('the specification’s example: a brute force that goes on past the inner quiet period still counts', () => {
    // The inner event_count holds from the 10th failure (4m30s) on; it alerts once, but the
    // sequence must see that it still holds at 14m30s, 15s before the success.
    const alerts = detect(specExample(''), [
      ...series(30, 0, 30 * SEC, logon('4625', 'ann')),
      [14 * MIN + 45 * SEC, logon('4624', 'ann')],
    ]);
    expect(alerts.map((a) => [a.rule, a.group, a.start, a.end])).toEqual([
      [
        'b180ead8-d58f-40b2-ae54-c8940995b9b6',
        { 'user.name': 'ann' },
        14 * MIN + 30 * SEC,
        14 * MIN + 45 * SEC,
      ],
    ]);
  });

  it('the specification’s example with generate: the rules it names alert too, not those they name', () => {
    const alerts = detect(specExample('generate: true'), [
      ...series(10, 0, 30 * SEC, logon('4625', 'ann')),
      [6 * MIN, logon('4624', 'ann')],
    ]);
    expect(alerts).toEqual([
      {
        rule: 'a8418a5a-5fc4-46b5-b23b-6c73beb19d41',
        severity: 'P2',
        group: { 'user.name': 'ann' },
        value: 10,
        start: 0,
        end: 4 * MIN + 30 * SEC,
        events: 10,
        trigger: 9,
      },
      {
        rule: '4d0a2c83-c62c-4ed4-b475-c7e23a9269b8',
        severity: 'P2',
        group: {},
        value: 1,
        start: 6 * MIN,
        end: 6 * MIN,
        events: 1,
        trigger: 10,
      },
      {
        rule: 'b180ead8-d58f-40b2-ae54-c8940995b9b6',
        severity: 'P1',
        group: { 'user.name': 'ann' },
        value: 2,
        start: 4 * MIN + 30 * SEC,
        end: 6 * MIN,
        events: 2,
        trigger: 10,
      },
    ]);
  });
});

describe('aliases', () => {
  /** The specification's field name aliases example, with a title and an id. */
  const yaml = `
name: internal_error
detection:
    selection:
        http.response.status_code: 500
    condition: selection
---
name: new_network_connection
detection:
    selection:
        event.category: network
        event.type: connection
        event.outcome: success
    condition: selection
---
title: Internal error followed by a connection to the client
id: error-then-callback
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
`;
  const internalError = (client: string, server: string): Fields => ({
    'event.action': 'http_request',
    'http.response.status_code': 500,
    'source.ip': client,
    'destination.ip': server,
  });
  const connection = (from: string, to: string): Fields => ({
    'event.category': ['network'],
    'event.type': ['connection', 'start'],
    'event.outcome': 'success',
    'source.ip': from,
    'destination.ip': to,
  });

  it('correlates an error and a connection only when the addresses line up', () => {
    const alerts = detect(yaml, [
      [0, internalError('203.0.113.5', '10.0.0.8')],
      [SEC, connection('203.0.113.5', '10.0.0.8')], // the same fields, not the aliased ones
      [2 * SEC, connection('10.0.0.8', '198.51.100.1')], // another remote address
      [3 * SEC, connection('10.0.0.9', '203.0.113.5')], // another internal address
      [4 * SEC, connection('10.0.0.8', '203.0.113.5')], // server → client
    ]);
    expect(alerts).toEqual([
      {
        rule: 'error-then-callback',
        severity: 'P2',
        group: { internal_ip: '10.0.0.8', remote_ip: '203.0.113.5' },
        value: 2,
        start: 0,
        end: 4 * SEC,
        events: 2,
        trigger: 4,
      },
    ]);
  });

  it('correlates in the other order too, within the timespan only', () => {
    const alerts = detect(yaml, [
      [0, connection('10.0.0.8', '203.0.113.5')],
      [0, connection('10.0.0.9', '203.0.113.6')],
      [10 * SEC, internalError('203.0.113.5', '10.0.0.8')],
      [10 * SEC + 1, internalError('203.0.113.6', '10.0.0.9')],
    ]);
    expect(alerts.map((a) => [a.group, a.start, a.end])).toEqual([
      [{ internal_ip: '10.0.0.8', remote_ip: '203.0.113.5' }, 0, 10 * SEC],
    ]);
  });
});

describe('generate', () => {
  /** `generate` is read inside the correlation block (pySigma) and at the top level (the spec's text). */
  const yaml = (generate: string, where: 'correlation' | 'top' = 'correlation') => `
${failuresPerUser('{gte: 3}')}
${where === 'correlation' ? '  ' : ''}${generate}
`;

  it('without generate, the rules a correlation uses raise no alerts of their own', () => {
    const alerts = detect(yaml(''), series(3, 0, SEC, failedLogin('ann')));
    expect(alerts.map((a) => [a.rule, a.trigger])).toEqual([['account-failures', 2]]);
  });

  it.each(['correlation', 'top'] as const)('with generate: true (%s), they do, on every match', (where) => {
    const alerts = detect(yaml('generate: true', where), series(3, 0, SEC, failedLogin('ann')));
    const single = (i: number): Seen => ({
      rule: 'failed_login',
      severity: 'P3',
      group: {},
      value: 1,
      start: i * SEC,
      end: i * SEC,
      events: 1,
      trigger: i,
    });
    expect(alerts).toEqual([
      single(0),
      single(1),
      single(2),
      {
        rule: 'account-failures',
        severity: 'P2',
        group: { 'user.name': 'ann' },
        value: 3,
        start: 0,
        end: 2 * SEC,
        events: 3,
        trigger: 2,
      },
    ]);
  });

  it('a rule no correlation uses alerts on its own', () => {
    const alerts = detect(`${FAILED_LOGIN}\n---\n${SUCCESSFUL_LOGIN}`, [
      [0, failedLogin('ann')],
      [SEC, successfulLogin('ann')],
    ]);
    expect(alerts.map((a) => [a.rule, a.severity, a.trigger])).toEqual([
      ['failed_login', 'P3', 0],
      ['successful_login', 'P2', 1],
    ]);
  });
});

describe('meta filters', () => {
  const vpnFilter = (condition: string) => `
title: The office VPN exit
logsource: {category: authentication}
filter:
  rules: [failed_login]
  selection: {source.ip: 10.0.0.5}
  condition: ${condition}
`;

  it('condition: not selection leaves the events out of the rule', () => {
    const alerts = detect(`${FAILED_LOGIN}\n---\n${vpnFilter('not selection')}`, [
      [0, failedLogin('ann', '10.0.0.5')],
      [SEC, failedLogin('ann', '203.0.113.9')],
    ]);
    expect(alerts.map((a) => [a.rule, a.trigger])).toEqual([['failed_login', 1]]);
  });

  it('the filter’s condition is AND-ed to the rule’s: condition: selection keeps only those events', () => {
    const alerts = detect(`${FAILED_LOGIN}\n---\n${vpnFilter('selection')}`, [
      [0, failedLogin('ann', '10.0.0.5')],
      [SEC, failedLogin('ann', '203.0.113.9')],
      [2 * SEC, successfulLogin('ann', '10.0.0.5')], // the filter alone does not make a match
    ]);
    expect(alerts.map((a) => [a.rule, a.trigger])).toEqual([['failed_login', 0]]);
  });

  it('filtered-out events do not count in a correlation over the rule', () => {
    const alerts = detect(`${failuresPerUser('{gte: 3}')}\n---\n${vpnFilter('not selection')}`, [
      [0, failedLogin('ann', '203.0.113.9')],
      [SEC, failedLogin('ann', '10.0.0.5')],
      [2 * SEC, failedLogin('ann', '10.0.0.5')],
      [3 * SEC, failedLogin('ann', '203.0.113.9')],
      [4 * SEC, failedLogin('ann', '203.0.113.9')],
    ]);
    expect(alerts).toEqual([
      {
        rule: 'account-failures',
        severity: 'P2',
        group: { 'user.name': 'ann' },
        value: 3,
        start: 0,
        end: 4 * SEC,
        events: 3,
        trigger: 4,
      },
    ]);
  });
});

describe('severity', () => {
  const rule = (level: string, firebreak = '') => `
title: Export
id: export
${level}
detection: {selection: {event.action: export}, condition: selection}
${firebreak}
`;
  const severityOf = (yaml: string) => detect(yaml, [[0, { 'event.action': 'export' }]])[0]?.severity;

  it.each([
    ['level: critical', 'P0'],
    ['level: high', 'P1'],
    ['level: medium', 'P2'],
    ['level: low', 'P3'],
    ['level: informational', 'P3'],
    ['', 'P2'],
  ])('%s → %s', (level, severity) => {
    expect(severityOf(rule(level))).toBe(severity);
  });

  it('firebreak.severity overrides level, on a rule and on a correlation', () => {
    expect(severityOf(rule('level: low', 'firebreak: {severity: P0}'))).toBe('P0');
    const correlation = `
${FAILED_LOGIN}
---
id: any-failure
level: informational
firebreak: {severity: P0}
correlation: {type: event_count, rules: [failed_login], timespan: 1m, condition: {gte: 1}}
`;
    expect(detect(correlation, [[0, failedLogin('ann')]])).toEqual([
      { rule: 'any-failure', severity: 'P0', group: {}, value: 1, start: 0, end: 0, events: 1, trigger: 0 },
    ]);
  });
});

describe('firebreak group_by and quiet on a Sigma rule', () => {
  const yaml = `
title: Denied order access
id: order-access-denied
level: high
logsource: {product: shop}
detection:
  selection: {event.action: order_view, event.outcome: failure}
  condition: selection
firebreak:
  group_by: [user.name]
  quiet: 5m
`;
  const denied = (user?: string): Fields => ({
    'event.action': 'order_view',
    'event.outcome': 'failure',
    ...(user === undefined ? {} : { 'user.name': user }),
  });

  it('alerts once per user per 5 minutes', () => {
    const { engine, alerts } = run(yaml, [
      [0, denied('ann')],
      [MIN, denied('ann')],
      [2 * MIN, denied('bob')],
      [5 * MIN, denied('ann')], // exactly 5m after: still quiet
      [5 * MIN + 1, denied('ann')],
      [6 * MIN, denied('bob')],
      [7 * MIN + 1, denied('bob')],
      [8 * MIN, denied()], // no user.name: no group, no alert
    ]);
    const at = (user: string, t: number, trigger: number): Seen => ({
      rule: 'order-access-denied',
      severity: 'P1',
      group: { 'user.name': user },
      value: 1,
      start: t,
      end: t,
      events: 1,
      trigger,
    });
    expect(alerts).toEqual([
      at('ann', 0, 0),
      at('bob', 2 * MIN, 2),
      at('ann', 5 * MIN + 1, 4),
      at('bob', 7 * MIN + 1, 6),
    ]);
    expect(engine.stats().ungrouped).toBe(1);
  });
});

describe('chaining reads only what the inner correlation passes on', () => {
  it('an outer group-by field the inner one does not group by is absent, even when other rules read it', () => {
    // `per_ip` reads source.ip from the real event; the chained event from `per_user` carries
    // only user.name, so `outer` (by source.ip) must not see the real event's address.
    const yaml = `
title: outer
id: outer
correlation:
  type: event_count
  rules: [per_user]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 1}
---
name: per_user
correlation:
  type: event_count
  rules: [failed]
  group-by: [user.name]
  timespan: 10m
  condition: {gte: 2}
---
title: per ip
id: per-ip
correlation:
  type: event_count
  rules: [failed]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 100}
---
name: failed
detection:
  selection:
    event.action: login
    event.outcome: failure
  condition: selection
`;
    const { engine, alerts } = run(yaml, series(3, 0, SEC, failedLogin('ann')));
    expect(alerts).toEqual([]);
    // The chained events (at the 2nd and 3rd login) had no source.ip for `outer`.
    expect(engine.stats().ungrouped).toBe(2);
  });
});
