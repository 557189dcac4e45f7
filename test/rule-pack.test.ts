/**
 * The built-in rule pack, loaded whole as production loads it, run through the engine: for
 * every rule its threshold (just under, at, just over) and its window's edges, with the
 * README's semantics: a window of W ending at t holds events in [t − W, t]; after an alert at
 * a, the (rule, group) stays quiet while |t − a| ≤ W; business hours Mon–Fri 09:00–18:00 UTC,
 * maintenance Sunday 02:00–04:00 UTC (start inclusive, end exclusive).
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUILTIN_RULES_DIR } from '../src/config/index.js';
import {
  type Alert,
  DEFAULT_CALENDAR,
  type DetectionCalendar,
  DetectionEngine,
  loadRules,
  readRuleFiles,
} from '../src/detect/index.js';
import type { EcsEvent } from '../src/events/index.js';
import type { Severity } from '../src/policy/index.js';

const NODES = loadRules(readRuleFiles(BUILTIN_RULES_DIR));

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const utc = (iso: string): number => Date.parse(iso);
/** Monday, inside business hours. */
const MON_NOON = utc('2026-03-02T12:00:00.000Z');
/** Saturday, outside business hours. */
const SAT_NOON = utc('2026-03-07T12:00:00.000Z');

// ---------------------------------------------------------------------------------------
// Running the pack

type Ev = readonly [EcsEvent, number];

function run(events: readonly Ev[], calendar: DetectionCalendar = DEFAULT_CALENDAR): Alert[] {
  const engine = new DetectionEngine(NODES, { latenessMs: 60 * SEC, calendar });
  const alerts: Alert[] = [];
  events.forEach(([event, at], i) => {
    alerts.push(...engine.process(event, at, i));
  });
  return alerts;
}

interface Brief {
  rule: string;
  severity: Severity;
  group: Record<string, string>;
  value: number;
  events: number;
  start: number;
  end: number;
}

function brief(a: Alert): Brief {
  return {
    rule: a.rule,
    severity: a.severity,
    group: { ...a.group },
    value: a.value,
    events: a.events,
    start: a.start,
    end: a.end,
  };
}

/** The alerts of one rule, briefly. */
function alertsOf(rule: string, events: readonly Ev[], calendar?: DetectionCalendar): Brief[] {
  return run(events, calendar)
    .filter((a) => a.rule === rule)
    .map(brief);
}

/** Every alert of the pack, briefly: for cases where no other rule should speak. */
function allAlerts(events: readonly Ev[], calendar?: DetectionCalendar): Brief[] {
  return run(events, calendar).map(brief);
}

// ---------------------------------------------------------------------------------------
// Events (README "Events the shop sends")

function ev(at: number, fields: Record<string, unknown>): Ev {
  return [{ '@timestamp': new Date(at).toISOString(), ...fields }, at];
}

interface LoginOptions {
  ip?: string;
  roles?: string[];
  country?: string;
}

function login(at: number, name: string, outcome: 'success' | 'failure', o: LoginOptions = {}): Ev {
  return ev(at, {
    event: { action: 'login', category: ['authentication'], outcome },
    user: { name, ...(o.roles === undefined ? {} : { roles: o.roles }) },
    source: {
      ip: o.ip ?? '203.0.113.7',
      ...(o.country === undefined ? {} : { geo: { country_iso_code: o.country } }),
    },
  });
}

const failedLogin = (at: number, name: string, o?: LoginOptions) => login(at, name, 'failure', o);
const goodLogin = (at: number, name: string, o?: LoginOptions) => login(at, name, 'success', o);

interface RequestOptions {
  status?: number;
  durationMs?: number;
  ip?: string;
  service?: string;
}

function request(at: number, o: RequestOptions = {}): Ev {
  return ev(at, {
    event: {
      action: 'request',
      category: ['web'],
      ...(o.durationMs === undefined ? {} : { duration: o.durationMs * 1_000_000 }),
    },
    http: { response: { status_code: o.status ?? 200 } },
    ...(o.ip === undefined ? {} : { source: { ip: o.ip } }),
    service: { name: o.service ?? 'storefront' },
  });
}

const payment = (at: number, failed: boolean) =>
  ev(at, {
    event: { action: 'payment', outcome: failed ? 'failure' : 'success' },
    service: { name: 'checkout' },
  });

const dataAccess = (at: number, name: string, records: number) =>
  ev(at, {
    event: { action: 'data-access', category: ['database'] },
    user: { name },
    firebreak: { records },
  });

const fileTransfer = (at: number, name: string, action: 'file-upload' | 'file-download') =>
  ev(at, { event: { action }, user: { name } });

const orderAccess = (at: number, name: string, denied: boolean) =>
  ev(at, { event: { action: 'order-access', outcome: denied ? 'failure' : 'success' }, user: { name } });

const schemaChange = (at: number) =>
  ev(at, { event: { action: 'schema-change', category: ['database'] }, user: { name: 'migrator' } });

const userCreated = (at: number, target: string, roles: string[]) =>
  ev(at, {
    event: { action: 'user-created', category: ['iam'] },
    user: { name: 'dana', target: { name: target, roles } },
  });

const tokenRevoked = (at: number, name: string, roles?: string[]) =>
  ev(at, { event: { action: 'token-revoked' }, user: { name, ...(roles === undefined ? {} : { roles }) } });

/** n times from `from`, `step` apart. */
function times(n: number, from: number, step: number): number[] {
  return Array.from({ length: n }, (_, i) => from + i * step);
}

// ---------------------------------------------------------------------------------------
// Coverage bookkeeping: every rule of the pack gets a describe block here.

const TESTED: string[] = [];
function describeRule(id: string, body: () => void): void {
  TESTED.push(id);
  describe(id, body);
}

function expected(rule: string, fields: Omit<Brief, 'rule' | 'severity'>): Brief {
  return { rule, severity: README_TABLE[rule]![0], ...fields };
}

// ---------------------------------------------------------------------------------------
// README "The rule pack" table: id → severity, group-by.

const README_TABLE: Record<string, [Severity, string[]]> = {
  'admin-login-failures': ['P0', ['user.name']],
  'schema-change-outside-window': ['P0', []],
  'bulk-data-access': ['P0', ['user.name']],
  'payment-failure-rate': ['P0', []],
  'mass-account-takeover': ['P0', ['source.ip']],
  'user-login-failures-per-ip': ['P1', ['source.ip']],
  'api-flood': ['P1', ['source.ip']],
  'error-rate-spike': ['P1', ['service.name']],
  'latency-severe': ['P1', ['service.name']],
  'admin-created-off-hours': ['P1', ['user.target.name']],
  'unauthorized-order-access': ['P1', ['user.name']],
  'account-login-failures': ['P2', ['user.name']],
  'login-new-country': ['P2', ['user.name']],
  'admin-off-hours-activity': ['P2', ['user.name']],
  'latency-degradation': ['P2', ['service.name']],
  'error-rate-high': ['P2', ['service.name']],
  'unusual-file-transfer': ['P2', ['user.name']],
};

const visibleNodes = () => NODES.filter((n) => !n.id.includes('/'));

describe('the rule pack as loaded', () => {
  it('loads all 17 rules with the severities and groupings of the README table', () => {
    const loaded = Object.fromEntries(visibleNodes().map((n) => [n.id, [n.severity, [...n.groupBy]]]));
    expect(loaded).toEqual(README_TABLE);
    expect(visibleNodes()).toHaveLength(17);
    for (const n of visibleNodes()) expect(n.generates, n.id).toBe(true);
  });

  it('has one file per rule, named after its id', () => {
    const files = readdirSync(BUILTIN_RULES_DIR)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => f.replace(/\.ya?ml$/, ''))
      .sort();
    expect(files).toEqual(
      visibleNodes()
        .map((n) => n.id)
        .sort(),
    );
  });

  it('is covered by this file: one describe block per loaded rule', () => {
    expect([...TESTED].sort()).toEqual(
      visibleNodes()
        .map((n) => n.id)
        .sort(),
    );
    expect(new Set(TESTED).size).toBe(TESTED.length);
  });
});

// ---------------------------------------------------------------------------------------
// Count rules: "more than N in W"

interface CountRule {
  id: string;
  n: number;
  windowMs: number;
  group: Record<string, string>;
  /** The i-th matching event at time `at`. */
  make: (at: number, i: number) => Ev;
}

const COUNT_RULES: CountRule[] = [
  {
    id: 'admin-login-failures',
    n: 3,
    windowMs: 5 * MIN,
    group: { 'user.name': 'dana' },
    make: (at) => failedLogin(at, 'dana', { roles: ['admin'] }),
  },
  {
    id: 'user-login-failures-per-ip',
    n: 50,
    windowMs: 15 * MIN,
    group: { 'source.ip': '198.51.100.4' },
    make: (at, i) => failedLogin(at, `customer-${i}`, { ip: '198.51.100.4' }),
  },
  {
    id: 'api-flood',
    n: 500,
    windowMs: MIN,
    group: { 'source.ip': '198.51.100.9' },
    make: (at) => request(at, { ip: '198.51.100.9' }),
  },
  {
    id: 'account-login-failures',
    n: 5,
    windowMs: 15 * MIN,
    group: { 'user.name': 'ann' },
    make: (at, i) => failedLogin(at, 'ann', { ip: `192.0.2.${i}` }),
  },
  {
    id: 'unusual-file-transfer',
    n: 50,
    windowMs: 10 * MIN,
    group: { 'user.name': 'dana' },
    make: (at, i) => fileTransfer(at, 'dana', i % 2 === 0 ? 'file-upload' : 'file-download'),
  },
];

/** `count` events spread over the first half of the window from T. */
function spread(rule: CountRule, count: number, from = MON_NOON): Ev[] {
  const step = Math.floor(rule.windowMs / 2 / count);
  return times(count, from, step).map((at, i) => rule.make(at, i));
}

/** The first event at `first`, n − 1 in the middle of the window, the (n + 1)-th at T + W. */
function edge(rule: CountRule, first: number): Ev[] {
  const t = MON_NOON + rule.windowMs;
  const middle = MON_NOON + rule.windowMs / 2;
  return [
    rule.make(first, 0),
    ...Array.from({ length: rule.n - 1 }, (_, i) => rule.make(middle, i + 1)),
    rule.make(t, rule.n),
  ];
}

for (const rule of COUNT_RULES) {
  describeRule(rule.id, () => {
    it(`${rule.n - 1} events: no alert`, () => {
      expect(alertsOf(rule.id, spread(rule, rule.n - 1))).toEqual([]);
    });

    it(`${rule.n} events (at the threshold "> ${rule.n}"): no alert`, () => {
      expect(alertsOf(rule.id, spread(rule, rule.n))).toEqual([]);
    });

    it(`${rule.n + 1} events: one alert, from the first event to the last, and no other rule`, () => {
      const events = spread(rule, rule.n + 1);
      const step = Math.floor(rule.windowMs / 2 / (rule.n + 1));
      expect(allAlerts(events)).toEqual([
        expected(rule.id, {
          group: rule.group,
          value: rule.n + 1,
          events: rule.n + 1,
          start: MON_NOON,
          end: MON_NOON + rule.n * step,
        }),
      ]);
    });

    it('counts the oldest event exactly W before the newest', () => {
      expect(alertsOf(rule.id, edge(rule, MON_NOON))).toEqual([
        expected(rule.id, {
          group: rule.group,
          value: rule.n + 1,
          events: rule.n + 1,
          start: MON_NOON,
          end: MON_NOON + rule.windowMs,
        }),
      ]);
    });

    it('does not count an event 1 ms older than that', () => {
      expect(alertsOf(rule.id, edge(rule, MON_NOON - 1))).toEqual([]);
    });

    if (rule.id === 'admin-login-failures') {
      it('does not count failed logins of non-admin accounts', () => {
        const noRoles = times(4, MON_NOON, SEC).map((at) => failedLogin(at, 'dana'));
        expect(alertsOf(rule.id, noRoles)).toEqual([]);
        const mixed = [
          ...times(3, MON_NOON, SEC).map((at) => failedLogin(at, 'dana', { roles: ['admin'] })),
          failedLogin(MON_NOON + 5 * SEC, 'dana', { roles: ['support'] }),
        ];
        expect(alertsOf(rule.id, mixed)).toEqual([]);
      });

      it('does not count successful admin logins', () => {
        const events = [
          ...times(3, MON_NOON, SEC).map((at) => failedLogin(at, 'dana', { roles: ['admin'] })),
          goodLogin(MON_NOON + 5 * SEC, 'dana', { roles: ['admin'] }),
        ];
        expect(alertsOf(rule.id, events)).toEqual([]);
      });
    }

    if (rule.id === 'unusual-file-transfer') {
      it('counts uploads alone and downloads alone', () => {
        for (const action of ['file-upload', 'file-download'] as const) {
          const events = times(51, MON_NOON, SEC).map((at) => fileTransfer(at, 'dana', action));
          expect(alertsOf(rule.id, events).map((a) => a.value)).toEqual([51]);
        }
      });

      it('does not count other actions of the user', () => {
        const events = [
          ...times(50, MON_NOON, SEC).map((at) => fileTransfer(at, 'dana', 'file-download')),
          tokenRevoked(MON_NOON + 51 * SEC, 'dana'),
        ];
        expect(alertsOf(rule.id, events)).toEqual([]);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------

describeRule('bulk-data-access', () => {
  const id = 'bulk-data-access';
  const group = { 'user.name': 'svc-export' };
  const access = (at: number, records: number) => dataAccess(at, 'svc-export', records);

  it.each([
    [999, 499],
    [1000, 500],
  ])('a sum of %i records: no alert', (_sum, second) => {
    expect(alertsOf(id, [access(MON_NOON, 500), access(MON_NOON + 30 * SEC, second)])).toEqual([]);
  });

  it('a sum of 1001 records: one alert, and no other rule', () => {
    expect(allAlerts([access(MON_NOON, 500), access(MON_NOON + 30 * SEC, 501)])).toEqual([
      expected(id, { group, value: 1001, events: 2, start: MON_NOON, end: MON_NOON + 30 * SEC }),
    ]);
  });

  it('counts the oldest event exactly 1 min before the newest', () => {
    expect(alertsOf(id, [access(MON_NOON, 1), access(MON_NOON + MIN, 1000)])).toEqual([
      expected(id, { group, value: 1001, events: 2, start: MON_NOON, end: MON_NOON + MIN }),
    ]);
  });

  it('does not count an event 1 ms older than that', () => {
    expect(alertsOf(id, [access(MON_NOON - 1, 1), access(MON_NOON + MIN, 1000)])).toEqual([]);
  });

  it('sums per user', () => {
    expect(alertsOf(id, [access(MON_NOON, 600), dataAccess(MON_NOON + SEC, 'other', 600)])).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------

describeRule('payment-failure-rate', () => {
  const id = 'payment-failure-rate';
  /** `ok` successful payments, then `failed` failures, a second apart from T. */
  const payments = (ok: number, failed: number, from = MON_NOON): Ev[] =>
    times(ok + failed, from, SEC).map((at, i) => payment(at, i >= ok));

  it('100 payments, 10% failed: no alert', () => {
    expect(alertsOf(id, payments(90, 10))).toEqual([]);
  });

  it('101 payments, 11 failed (10.9%): one alert, and no other rule', () => {
    expect(allAlerts(payments(90, 11))).toEqual([
      expected(id, { group: {}, value: 1100 / 101, events: 101, start: MON_NOON, end: MON_NOON + 100 * SEC }),
    ]);
  });

  it('19 payments, all failed: no alert (too few payments)', () => {
    expect(alertsOf(id, payments(0, 19))).toEqual([]);
  });

  it('the 20th payment opens the gate: 19 failed + 1 good = 95%', () => {
    const events = [...payments(0, 19), payment(MON_NOON + 19 * SEC, false)];
    expect(alertsOf(id, events)).toEqual([
      expected(id, { group: {}, value: 95, events: 20, start: MON_NOON, end: MON_NOON + 19 * SEC }),
    ]);
  });

  it('exactly 20 payments: 2 failed (10%) no alert, 3 failed (15%) alert', () => {
    expect(alertsOf(id, payments(18, 2))).toEqual([]);
    expect(alertsOf(id, payments(17, 3))).toEqual([
      expected(id, { group: {}, value: 15, events: 20, start: MON_NOON, end: MON_NOON + 19 * SEC }),
    ]);
  });

  /** One good payment at `first`, 16 good at T + 1 min, 3 failures at T + 5 min: 20 in all. */
  const edgeCase = (first: number): Ev[] => [
    payment(first, false),
    ...times(16, MON_NOON + MIN, SEC).map((at) => payment(at, false)),
    ...times(3, MON_NOON + 5 * MIN, 0).map((at) => payment(at, true)),
  ];

  it('counts the oldest payment exactly 5 min before the newest', () => {
    expect(alertsOf(id, edgeCase(MON_NOON))).toEqual([
      expected(id, { group: {}, value: 15, events: 20, start: MON_NOON, end: MON_NOON + 5 * MIN }),
    ]);
  });

  it('does not count a payment 1 ms older than that (19 payments: no alert)', () => {
    expect(alertsOf(id, edgeCase(MON_NOON - 1))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------

describeRule('mass-account-takeover', () => {
  const id = 'mass-account-takeover';
  const ip = '198.51.100.66';
  const group = { 'source.ip': ip };
  const logins = (users: number, from = MON_NOON) =>
    times(users, from, SEC).map((at, i) => goodLogin(at, `victim-${i}`, { ip }));

  it('20 distinct accounts: no alert', () => {
    expect(alertsOf(id, logins(20))).toEqual([]);
  });

  it('21 distinct accounts: one alert, and no other rule', () => {
    expect(allAlerts(logins(21))).toEqual([
      expected(id, { group, value: 21, events: 21, start: MON_NOON, end: MON_NOON + 20 * SEC }),
    ]);
  });

  it('repeated logins of the same account do not add', () => {
    const repeats = times(5, MON_NOON + 30 * SEC, SEC).map((at) => goodLogin(at, 'victim-0', { ip }));
    expect(alertsOf(id, [...logins(20), ...repeats])).toEqual([]);
    // One more distinct account: 21 distinct among 26 logins.
    const more = goodLogin(MON_NOON + 40 * SEC, 'victim-20', { ip });
    expect(alertsOf(id, [...logins(20), ...repeats, more])).toEqual([
      expected(id, { group, value: 21, events: 26, start: MON_NOON, end: MON_NOON + 40 * SEC }),
    ]);
  });

  it('failed logins do not count', () => {
    const failed = failedLogin(MON_NOON + 30 * SEC, 'victim-20', { ip });
    expect(alertsOf(id, [...logins(20), failed])).toEqual([]);
  });

  const edgeCase = (first: number): Ev[] => [
    goodLogin(first, 'victim-0', { ip }),
    ...times(19, MON_NOON + 5 * MIN, SEC).map((at, i) => goodLogin(at, `victim-${i + 1}`, { ip })),
    goodLogin(MON_NOON + 10 * MIN, 'victim-20', { ip }),
  ];

  it('counts the oldest login exactly 10 min before the newest', () => {
    expect(alertsOf(id, edgeCase(MON_NOON))).toEqual([
      expected(id, { group, value: 21, events: 21, start: MON_NOON, end: MON_NOON + 10 * MIN }),
    ]);
  });

  it('does not count a login 1 ms older than that', () => {
    expect(alertsOf(id, edgeCase(MON_NOON - 1))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------

describeRule('error-rate-high', () => {
  const id = 'error-rate-high';
  const group = { 'service.name': 'storefront' };
  /** n requests a second apart from T; the last `errors` answered `status`. */
  const requests = (n: number, errors: number, status = 500, from = MON_NOON) =>
    times(n, from, SEC).map((at, i) => request(at, { status: i >= n - errors ? status : 200 }));

  it('100 requests, 4% 5xx: no alert', () => {
    expect(alertsOf(id, requests(100, 4))).toEqual([]);
  });

  it('100 requests, 5% 5xx: no alert', () => {
    expect(alertsOf(id, requests(100, 5))).toEqual([]);
  });

  it('100 requests, 6% 5xx: one alert, and no other rule', () => {
    expect(allAlerts(requests(100, 6))).toEqual([
      expected(id, { group, value: 6, events: 100, start: MON_NOON, end: MON_NOON + 99 * SEC }),
    ]);
  });

  it('99 requests, half of them 5xx: no alert (too few requests)', () => {
    expect(alertsOf(id, requests(99, 50))).toEqual([]);
  });

  it('4xx answers are not errors', () => {
    expect(alertsOf(id, requests(100, 10, 404))).toEqual([]);
    expect(alertsOf(id, requests(100, 10, 499))).toEqual([]);
  });

  it('599 counts as an error, 600 does not', () => {
    expect(alertsOf(id, requests(100, 6, 599)).map((a) => a.value)).toEqual([6]);
    expect(alertsOf(id, requests(100, 6, 600))).toEqual([]);
  });

  /** One good request at `first`, 98 (6 of them 503) at T + 2 min, one good at T + 5 min. */
  const edgeCase = (first: number): Ev[] => [
    request(first),
    ...times(98, MON_NOON + 2 * MIN, 0).map((at, i) => request(at, { status: i < 6 ? 503 : 200 })),
    request(MON_NOON + 5 * MIN),
  ];

  it('counts the oldest request exactly 5 min before the newest', () => {
    expect(alertsOf(id, edgeCase(MON_NOON))).toEqual([
      expected(id, { group, value: 6, events: 100, start: MON_NOON, end: MON_NOON + 5 * MIN }),
    ]);
  });

  it('does not count a request 1 ms older than that (99 requests: no alert)', () => {
    expect(alertsOf(id, edgeCase(MON_NOON - 1))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// Baselines: the current 5 minutes against the hour before (12 windows of 5 minutes)

/** Start of the hour of history. */
const H0 = MON_NOON;
/** The end of the current window that follows a full hour of history: H0 + 65 min. */
const NOW = H0 + 65 * MIN;

/**
 * A steady hour of history: 12 windows × 25 requests, 12 s apart from `from` (the last at
 * from + 59:48), 100 ms each; `errors` of them (evenly spread) answered 500.
 */
function history(errors: number, from = H0, windows = 12): Ev[] {
  const n = 25 * windows;
  const every = errors === 0 ? 0 : Math.floor(n / errors);
  return times(n, from, 12 * SEC).map((at, i) =>
    request(at, { durationMs: 100, status: every > 0 && i % every === 0 ? 500 : 200 }),
  );
}

/**
 * n requests ending at `end`, 50 ms apart (so no history request lies in their windows);
 * the last `errors` answered 500.
 */
function burst(n: number, o: { durationMs?: number; errors?: number; end?: number } = {}): Ev[] {
  const end = o.end ?? NOW;
  const errors = o.errors ?? 0;
  return times(n, end - (n - 1) * 50, 50).map((at, i) =>
    request(at, { durationMs: o.durationMs ?? 100, status: i >= n - errors ? 500 : 200 }),
  );
}

const burstStart = (n: number, end = NOW) => end - (n - 1) * 50;
const STOREFRONT = { 'service.name': 'storefront' };

describe('baseline history helper', () => {
  it('has 2% errors, a 100 ms mean and ends before the current window', () => {
    const h = history(6);
    expect(h).toHaveLength(300);
    const statuses = h.map(([e]) => (e.http as { response: { status_code: number } }).response.status_code);
    expect(statuses.filter((s) => s === 500)).toHaveLength(6);
    expect(h.at(-1)![1]).toBe(H0 + 59 * MIN + 48 * SEC);
    expect(burstStart(101)).toBeGreaterThan(h.at(-1)![1] + 5 * MIN);
  });
});

for (const [id, multiple] of [
  ['latency-severe', 3],
  ['latency-degradation', 2],
] as const) {
  describeRule(id, () => {
    const justUnder = 100 * multiple - 1;
    const at = 100 * multiple;
    const justOver = 100 * multiple + 1;

    it(`20 requests at ${justUnder} ms after an hour at 100 ms: no alert`, () => {
      expect(alertsOf(id, [...history(0), ...burst(20, { durationMs: justUnder })])).toEqual([]);
    });

    it(`20 requests at ${at} ms (exactly ${multiple}×): no alert`, () => {
      expect(alertsOf(id, [...history(0), ...burst(20, { durationMs: at })])).toEqual([]);
    });

    it(`20 requests at ${justOver} ms: one alert over the current window`, () => {
      expect(alertsOf(id, [...history(0), ...burst(20, { durationMs: justOver })])).toEqual([
        expected(id, {
          group: STOREFRONT,
          value: justOver / 100,
          events: 20,
          start: burstStart(20),
          end: NOW,
        }),
      ]);
    });

    it('19 requests at 1 s: no alert (too few); the 20th: alert', () => {
      expect(alertsOf(id, [...history(0), ...burst(19, { durationMs: 1000 })])).toEqual([]);
      expect(alertsOf(id, [...history(0), ...burst(20, { durationMs: 1000 })])).toEqual([
        expected(id, { group: STOREFRONT, value: 10, events: 20, start: burstStart(20), end: NOW }),
      ]);
    });

    it('no history: no alert', () => {
      expect(alertsOf(id, burst(20, { durationMs: 1000 }))).toEqual([]);
      expect(alertsOf(id, burst(100, { durationMs: 1000 }))).toEqual([]);
    });

    /** One slow request at `first`, 19 more ending at NOW. */
    const edgeCase = (first: number): Ev[] => [
      ...history(0),
      request(first, { durationMs: justOver }),
      ...burst(19, { durationMs: justOver }),
    ];

    it('counts the oldest request of the current window exactly 5 min before the newest', () => {
      expect(alertsOf(id, edgeCase(NOW - 5 * MIN))).toEqual([
        expected(id, {
          group: STOREFRONT,
          value: justOver / 100,
          events: 20,
          start: NOW - 5 * MIN,
          end: NOW,
        }),
      ]);
    });

    it('does not count a request 1 ms older than that (19 requests: no alert)', () => {
      expect(alertsOf(id, edgeCase(NOW - 5 * MIN - 1))).toEqual([]);
    });

    it('history in the oldest of the 12 windows counts; history older than the hour does not', () => {
      // 25 requests in [H0, H0 + 5 min): the 12th window before a current window ending at NOW.
      const oldest = history(0, H0, 1);
      expect(alertsOf(id, [...oldest, ...burst(20, { durationMs: justOver })]).map((a) => a.value)).toEqual([
        justOver / 100,
      ]);
      // The same history before a current window ending 5 min + 1 s later (a bucket of 1 s):
      // it lies wholly before the hour, so there is no baseline.
      const later = NOW + 5 * MIN + SEC;
      expect(alertsOf(id, [...oldest, ...burst(20, { durationMs: justOver, end: later })])).toEqual([]);
    });
  });
}

describeRule('error-rate-spike', () => {
  const id = 'error-rate-spike';

  it('100 requests, 19% 5xx after an hour at 2% (9.5×): no alert', () => {
    expect(alertsOf(id, [...history(6), ...burst(100, { errors: 19 })])).toEqual([]);
  });

  it('100 requests, 20% 5xx (exactly 10×): no alert', () => {
    expect(alertsOf(id, [...history(6), ...burst(100, { errors: 20 })])).toEqual([]);
  });

  it('100 requests, 21% 5xx (10.5×): one alert over the current window', () => {
    expect(alertsOf(id, [...history(6), ...burst(100, { errors: 21 })])).toEqual([
      expected(id, { group: STOREFRONT, value: 10.5, events: 100, start: burstStart(100), end: NOW }),
    ]);
  });

  it('99 requests, half 5xx: no alert (too few); 100: alert', () => {
    expect(alertsOf(id, [...history(6), ...burst(99, { errors: 50 })])).toEqual([]);
    expect(alertsOf(id, [...history(6), ...burst(100, { errors: 50 })])).toEqual([
      expected(id, { group: STOREFRONT, value: 25, events: 100, start: burstStart(100), end: NOW }),
    ]);
  });

  it('no history: no alert', () => {
    expect(alertsOf(id, burst(100, { errors: 50 }))).toEqual([]);
  });

  it('a history without errors is compared against the 1% floor: 10% no alert, 10.9% alert', () => {
    expect(alertsOf(id, [...history(0), ...burst(100, { errors: 10 })])).toEqual([]);
    // 101 requests, the last 11 errors: the 100th is at 10% (no), the 101st at 1100/101 %.
    expect(alertsOf(id, [...history(0), ...burst(101, { errors: 11 })])).toEqual([
      expected(id, { group: STOREFRONT, value: 1100 / 101, events: 101, start: burstStart(101), end: NOW }),
    ]);
  });

  /** One request at `first`, 99 more ending at NOW; 25 errors in all (12.5×). */
  const edgeCase = (first: number): Ev[] => [
    ...history(6),
    request(first, { durationMs: 100 }),
    ...burst(99, { errors: 25 }),
  ];

  it('counts the oldest request of the current window exactly 5 min before the newest', () => {
    expect(alertsOf(id, edgeCase(NOW - 5 * MIN))).toEqual([
      expected(id, { group: STOREFRONT, value: 12.5, events: 100, start: NOW - 5 * MIN, end: NOW }),
    ]);
  });

  it('does not count a request 1 ms older than that (99 requests: no alert)', () => {
    expect(alertsOf(id, edgeCase(NOW - 5 * MIN - 1))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------

describeRule('schema-change-outside-window', () => {
  const id = 'schema-change-outside-window';
  const one = (at: number) => expected(id, { group: {}, value: 1, events: 1, start: at, end: at });

  it.each([
    ['2026-03-08T01:59:59.999Z', true],
    ['2026-03-08T02:00:00.000Z', false],
    ['2026-03-08T03:59:59.999Z', false],
    ['2026-03-08T04:00:00.000Z', true],
    ['2026-03-02T12:00:00.000Z', true],
  ])('a schema change on %s: alert %s', (iso, alerts) => {
    const at = utc(iso);
    expect(allAlerts([schemaChange(at)])).toEqual(alerts ? [one(at)] : []);
  });

  it('stays quiet for 10 min: a second change exactly 10 min later raises nothing', () => {
    expect(alertsOf(id, [schemaChange(MON_NOON), schemaChange(MON_NOON + 10 * MIN)])).toEqual([
      one(MON_NOON),
    ]);
  });

  it('a second change 10 min + 1 ms later alerts again', () => {
    const second = MON_NOON + 10 * MIN + 1;
    expect(alertsOf(id, [schemaChange(MON_NOON), schemaChange(second)])).toEqual([
      one(MON_NOON),
      one(second),
    ]);
  });

  it("applies the policy's time zone: maintenance Sunday 02:00–04:00 Europe/Berlin (01:00–03:00 UTC in March)", () => {
    const berlin: DetectionCalendar = {
      businessHours: DEFAULT_CALENDAR.businessHours,
      maintenanceWindows: [
        { days: ['sun'], startMinute: 2 * 60, endMinute: 4 * 60, timeZone: 'Europe/Berlin' },
      ],
    };
    const cases: [string, boolean][] = [
      ['2026-03-08T00:59:59.999Z', true],
      ['2026-03-08T01:00:00.000Z', false],
      ['2026-03-08T02:59:59.999Z', false],
      ['2026-03-08T03:00:00.000Z', true], // inside the default UTC window, outside Berlin's
      ['2026-03-08T03:59:59.999Z', true],
    ];
    for (const [iso, alerts] of cases) {
      const at = utc(iso);
      expect(alertsOf(id, [schemaChange(at)], berlin), iso).toEqual(alerts ? [one(at)] : []);
    }
  });
});

// ---------------------------------------------------------------------------------------

describeRule('admin-created-off-hours', () => {
  const id = 'admin-created-off-hours';
  const one = (at: number) =>
    expected(id, { group: { 'user.target.name': 'mallory' }, value: 1, events: 1, start: at, end: at });

  it.each([
    ['Friday 17:59:59.999', '2026-03-06T17:59:59.999Z', false],
    ['Friday 18:00', '2026-03-06T18:00:00.000Z', true],
    ['Saturday noon', '2026-03-07T12:00:00.000Z', true],
    ['Monday 08:59:59.999', '2026-03-09T08:59:59.999Z', true],
    ['Monday 09:00', '2026-03-09T09:00:00.000Z', false],
  ])('an admin created %s: alert %s', (_label, iso, alerts) => {
    const at = utc(iso);
    expect(allAlerts([userCreated(at, 'mallory', ['admin'])])).toEqual(alerts ? [one(at)] : []);
  });

  it('an account without the admin role created off hours: no alert', () => {
    expect(alertsOf(id, [userCreated(SAT_NOON, 'mallory', ['support'])])).toEqual([]);
    expect(alertsOf(id, [userCreated(SAT_NOON, 'mallory', [])])).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------

describeRule('unauthorized-order-access', () => {
  const id = 'unauthorized-order-access';
  const one = (name: string, at: number) =>
    expected(id, { group: { 'user.name': name }, value: 1, events: 1, start: at, end: at });

  it('a denied access: alert, and no other rule', () => {
    expect(allAlerts([orderAccess(MON_NOON, 'creator-17', true)])).toEqual([one('creator-17', MON_NOON)]);
  });

  it('an allowed access: no alert', () => {
    expect(alertsOf(id, [orderAccess(MON_NOON, 'creator-17', false)])).toEqual([]);
  });

  it('stays quiet 5 min per user: exactly 5 min later no alert, 1 ms more alert', () => {
    const events = [
      orderAccess(MON_NOON, 'creator-17', true),
      orderAccess(MON_NOON + 5 * MIN, 'creator-17', true),
      orderAccess(MON_NOON + 5 * MIN + 1, 'creator-17', true),
    ];
    expect(alertsOf(id, events)).toEqual([
      one('creator-17', MON_NOON),
      one('creator-17', MON_NOON + 5 * MIN + 1),
    ]);
  });

  it('different users alert separately', () => {
    const events = [
      orderAccess(MON_NOON, 'creator-17', true),
      orderAccess(MON_NOON + SEC, 'creator-18', true),
    ];
    expect(alertsOf(id, events)).toEqual([one('creator-17', MON_NOON), one('creator-18', MON_NOON + SEC)]);
  });
});

// ---------------------------------------------------------------------------------------

describeRule('login-new-country', () => {
  const id = 'login-new-country';
  const from = (at: number, country: string, name = 'ann') => goodLogin(at, name, { country });
  const one = (at: number) =>
    expected(id, { group: { 'user.name': 'ann' }, value: 1, events: 1, start: at, end: at });

  it('a first-ever login: no alert (no history)', () => {
    expect(allAlerts([from(MON_NOON, 'DE')])).toEqual([]);
  });

  it('a second login from the same country: no alert', () => {
    expect(alertsOf(id, [from(MON_NOON, 'DE'), from(MON_NOON + DAY, 'DE')])).toEqual([]);
  });

  it('a new country within 30 days: alert (value 1), and no other rule; the same country again: none', () => {
    const events = [
      from(MON_NOON, 'DE'),
      from(MON_NOON + 29 * DAY, 'FR'),
      from(MON_NOON + 29 * DAY + HOUR, 'FR'),
    ];
    expect(allAlerts(events)).toEqual([one(MON_NOON + 29 * DAY)]);
  });

  it('a country last seen exactly 30 days ago is not new', () => {
    const events = [from(MON_NOON, 'DE'), from(MON_NOON + DAY, 'FR'), from(MON_NOON + 30 * DAY, 'DE')];
    expect(alertsOf(id, events)).toEqual([one(MON_NOON + DAY)]);
    expect(alertsOf(id, [from(MON_NOON, 'DE'), from(MON_NOON + 30 * DAY, 'DE')])).toEqual([]);
  });

  it('a country last seen 30 days + 1 ms ago is new, when the user logged in within the 30 days', () => {
    const events = [from(MON_NOON, 'DE'), from(MON_NOON + DAY, 'FR'), from(MON_NOON + 30 * DAY + 1, 'DE')];
    expect(alertsOf(id, events)).toEqual([one(MON_NOON + DAY), one(MON_NOON + 30 * DAY + 1)]);
  });

  it('a login 30 days + 1 ms after the only earlier one: no alert (no history within 30 days)', () => {
    expect(alertsOf(id, [from(MON_NOON, 'DE'), from(MON_NOON + 30 * DAY + 1, 'FR')])).toEqual([]);
  });

  it('failed logins count neither as history nor as a seen country', () => {
    // A failed login is no history.
    expect(
      alertsOf(id, [failedLogin(MON_NOON, 'ann', { country: 'DE' }), from(MON_NOON + HOUR, 'FR')]),
    ).toEqual([]);
    // A failed login from FR does not make FR seen, nor does it alert.
    const events = [
      from(MON_NOON, 'DE'),
      failedLogin(MON_NOON + HOUR, 'ann', { country: 'FR' }),
      from(MON_NOON + 2 * HOUR, 'FR'),
    ];
    expect(alertsOf(id, events)).toEqual([one(MON_NOON + 2 * HOUR)]);
  });

  it('countries are per user', () => {
    expect(alertsOf(id, [from(MON_NOON, 'DE'), from(MON_NOON + HOUR, 'FR', 'bob')])).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------

describeRule('admin-off-hours-activity', () => {
  const id = 'admin-off-hours-activity';
  const admin = ['admin'];
  const one = (name: string, at: number) =>
    expected(id, { group: { 'user.name': name }, value: 1, events: 1, start: at, end: at });

  it('an admin action outside business hours: alert, and no other rule', () => {
    expect(allAlerts([tokenRevoked(SAT_NOON, 'dana', admin)])).toEqual([one('dana', SAT_NOON)]);
  });

  it('a successful admin login outside business hours: alert', () => {
    expect(alertsOf(id, [goodLogin(SAT_NOON, 'dana', { roles: admin })])).toEqual([one('dana', SAT_NOON)]);
  });

  it('an admin action inside business hours: no alert', () => {
    expect(alertsOf(id, [tokenRevoked(MON_NOON, 'dana', admin)])).toEqual([]);
  });

  it('a non-admin action outside business hours: no alert', () => {
    expect(alertsOf(id, [tokenRevoked(SAT_NOON, 'dana')])).toEqual([]);
  });

  it('a failed admin login outside business hours: no alert', () => {
    expect(alertsOf(id, [failedLogin(SAT_NOON, 'dana', { roles: admin })])).toEqual([]);
  });

  it('stays quiet 1 h per admin: exactly 1 h later no alert, 1 ms more alert; other admins alert', () => {
    const events = [
      tokenRevoked(SAT_NOON, 'dana', admin),
      tokenRevoked(SAT_NOON + SEC, 'erin', admin),
      tokenRevoked(SAT_NOON + 30 * MIN, 'dana', admin),
      tokenRevoked(SAT_NOON + HOUR, 'dana', admin),
      tokenRevoked(SAT_NOON + HOUR + 1, 'dana', admin),
    ];
    expect(alertsOf(id, events)).toEqual([
      one('dana', SAT_NOON),
      one('erin', SAT_NOON + SEC),
      one('dana', SAT_NOON + HOUR + 1),
    ]);
  });
});
