/** Playbook files → checked playbooks, or every problem as `file:line path: reason`. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_RULES_DIR, PLAYBOOKS_DIR } from '../config/index.js';
import { loadRules, readRuleFiles } from '../detect/index.js';
import { type ErrorDetail, isFirebreakError } from '../kernel/index.js';
import { RESPONSE_ROLES } from '../policy/index.js';
import { KNOWN_CONNECTOR_OPERATIONS } from './playbook.js';
import { loadPlaybooks, type PlaybookText, parsePlaybooks, templateProblems } from './playbook-loader.js';

const OPTIONS = { connectors: KNOWN_CONNECTOR_OPERATIONS, roles: RESPONSE_ROLES };

/** A valid playbook; `step` replaces lines 9 onwards (the first step's fields after `phase`). */
function playbook(id: string, step = STEP_REST): string {
  return [
    `id: ${id}`, // 1
    'title: Test playbook', // 2
    'triggers:', // 3
    '  - rules: [api-flood]', // 4
    '    mode: proposed', // 5
    'steps:', // 6
    '  - id: ban', // 7
    '    title: Ban the address', // 8
    step, // 9 onwards
  ].join('\n');
}
const STEP_REST = [
  '    phase: containment', // 9
  '    action:', // 10
  '      connector: decisions', // 11
  '      operation: add', // 12
  '      params:', // 13
  '        value: "{{ alert.group.source.ip }}"', // 14
  '    approval: none', // 15
  '    timeout: 30s', // 16
  '    retries: 3', // 17
  '    undo:', // 18
  '      connector: decisions', // 19
  '      operation: delete', // 20
  '      params: { value: "{{ alert.group.source.ip }}" }', // 21
].join('\n');
const withRest = (from: string, to: string) => {
  expect(STEP_REST).toContain(from);
  return STEP_REST.replace(from, to);
};

function problemsOf(texts: PlaybookText[]): ErrorDetail[] {
  try {
    parsePlaybooks(texts, OPTIONS);
  } catch (error) {
    if (isFirebreakError(error) && error.code === 'FB_ERR_PLAYBOOK_INVALID') return [...error.details];
    throw error;
  }
  return [];
}
const lines = (texts: PlaybookText[]) => problemsOf(texts).map((d) => `${d.path}: ${d.message}`);
const one = (text: string) => lines([{ file: 'p.yaml', text }]);

describe('parsePlaybooks', () => {
  it('reads a valid playbook into steps with defaults and undo', () => {
    const [p] = parsePlaybooks([{ file: 'p.yaml', text: playbook('ban-it') }], OPTIONS);
    expect(p).toMatchObject({
      id: 'ban-it',
      title: 'Test playbook',
      description: '',
      triggers: [{ rules: ['api-flood'], tags: [], severities: [], mode: 'proposed' }],
      source: { file: 'p.yaml', line: 1 },
    });
    expect(p!.steps[0]).toMatchObject({
      id: 'ban',
      phase: 'containment',
      action: { connector: 'decisions', operation: 'add', params: { value: '{{ alert.group.source.ip }}' } },
      approval: { kind: 'none' },
      timeoutMs: 30_000,
      retries: 3,
      undo: { kind: 'action', action: { connector: 'decisions', operation: 'delete' } },
      line: 7,
    });
  });

  it('takes an approval role and undo none with a reason; timeout and retries default', () => {
    const rest = withRest('    approval: none', '    approval: incident_commander')
      .replace('    timeout: 30s\n    retries: 3\n', '')
      .replace(/ {4}undo:[\s\S]*$/, '    undo:\n      none: a sent message cannot be unsent');
    const [p] = parsePlaybooks([{ file: 'p.yaml', text: playbook('x', rest) }], OPTIONS);
    expect(p!.steps[0]).toMatchObject({
      approval: { kind: 'role', role: 'incident_commander' },
      timeoutMs: 5 * 60_000,
      retries: 0,
      undo: { kind: 'none', reason: 'a sent message cannot be unsent' },
    });
  });

  it('names an unknown connector at its line', () => {
    expect(one(playbook('x', withRest('connector: decisions', 'connector: nope')))).toEqual([
      'p.yaml:11 steps[0].action.connector: unknown connector "nope" (known: decisions, http, notify, postgres)',
    ]);
  });

  it('names an unknown operation at its line, listing the connector’s operations', () => {
    expect(one(playbook('x', withRest('operation: delete', 'operation: remove')))).toEqual([
      'p.yaml:20 steps[0].undo.operation: connector "decisions" has no operation "remove" (its operations: add, delete, set_switch)',
    ]);
  });

  it('rejects an approval that is not a policy role', () => {
    expect(one(playbook('x', withRest('approval: none', 'approval: ceo')))).toEqual([
      'p.yaml:15 steps[0].approval: must be none or a response role of the policy (incident_commander, security_lead, technical_lead, communications_lead), got "ceo"',
    ]);
  });

  it('rejects a timeout that is not a duration, or out of limits', () => {
    expect(one(playbook('x', withRest('timeout: 30s', 'timeout: soon')))).toEqual([
      'p.yaml:16 steps[0].timeout: must be a duration such as 30s, 5m or 1h (1s to 1d), got "soon"',
    ]);
    expect(one(playbook('x', withRest('timeout: 30s', 'timeout: 2d')))).toEqual([
      'p.yaml:16 steps[0].timeout: must be from 1s to 1d, got 2d',
    ]);
  });

  it('rejects retries outside 0–10', () => {
    expect(one(playbook('x', withRest('retries: 3', 'retries: 11')))).toEqual([
      'p.yaml:17 steps[0].retries: must be a whole number from 0 to 10, got 11',
    ]);
    expect(one(playbook('x', withRest('retries: 3', 'retries: 1.5')))).toEqual([
      'p.yaml:17 steps[0].retries: must be integer',
    ]);
  });

  it('requires an undo on every step, and one form of it', () => {
    const noUndo = STEP_REST.replace(/ {4}undo:[\s\S]*$/, '').trimEnd();
    expect(one(playbook('x', noUndo))).toEqual([
      'p.yaml:7 steps[0]: every step needs an undo: an action that puts things back (connector, operation, params) or `none: <why it cannot be undone>`',
    ]);
    const both = withRest(
      '      connector: decisions\n      operation: delete',
      '      none: why\n      connector: decisions\n      operation: delete',
    );
    expect(one(playbook('x', both))[0]).toMatch(/^p\.yaml:18 steps\[0\]\.undo: give either .*, not both$/);
  });

  it('checks the phase and the recovery phase, which any step may name (where its undo runs)', () => {
    expect(one(playbook('x', withRest('phase: containment', 'phase: cleanup')))).toEqual([
      'p.yaml:9 steps[0].phase: must be one of containment, eradication, recovery',
    ]);
    const named = withRest('    phase: containment', '    phase: containment\n    recovery_phase: payments');
    expect(one(playbook('x', named))).toEqual([]);
    const unknown = withRest('    phase: containment', '    phase: containment\n    recovery_phase: billing');
    expect(one(playbook('x', unknown))[0]).toMatch(
      /^p\.yaml:10 steps\[0\]\.recovery_phase: must be one of core_infrastructure/,
    );
  });

  it('rejects a template path outside incident, alerts and alert, and an unclosed one', () => {
    expect(one(playbook('x', withRest('{{ alert.group.source.ip }}"', '{{ env.SECRET }}"')))).toEqual([
      'p.yaml:14 steps[0].action.params.value: template "{{ env.SECRET }}" must be a path starting with incident, alerts, alert (such as {{ incident.id }} or {{ alert.group.source.ip }})',
    ]);
    expect(one(playbook('x', withRest('{{ alert.group.source.ip }}"', '{{ incident.id"')))).toEqual([
      'p.yaml:14 steps[0].action.params.value: has an unclosed "{{" or a stray "}}"',
    ]);
    expect(templateProblems('{{ alerts[0].group.source.ip }} for {{incident.id}}')).toEqual([]);
    expect(templateProblems('{{ alert..ip }}')).toHaveLength(1);
  });

  it('rejects unknown keys (closed objects) at their line', () => {
    expect(one(playbook('x', withRest('    retries: 3', '    retries: 3\n    retires: 3')))).toEqual([
      'p.yaml:18 steps[0].retires: is not a known field',
    ]);
  });

  it('reports a YAML syntax error with its line', () => {
    const [problem] = one('id: x\ntitle: [unclosed\nsteps: []\n');
    expect(problem).toMatch(/^p\.yaml:\d+: YAML syntax: /);
  });

  it('finds duplicate ids across files and collects every problem of every file', () => {
    const problems = lines([
      { file: 'a.yaml', text: playbook('same') },
      { file: 'b.yaml', text: playbook('same') },
      { file: 'c.yaml', text: playbook('c', withRest('retries: 3', 'retries: -1')) },
      { file: 'd.yaml', text: playbook('d', withRest('connector: decisions', 'connector: nope')) },
    ]);
    expect(problems).toEqual([
      'b.yaml:1 id: playbook id "same" is already used by a.yaml:1',
      'c.yaml:17 steps[0].retries: must be a whole number from 0 to 10, got -1',
      expect.stringMatching(/^d\.yaml:11 steps\[0\]\.action\.connector: unknown connector "nope"/),
    ]);
  });

  it('checks trigger rule ids when the known rules are given', () => {
    const text = playbook('x').replace('rules: [api-flood]', 'rules: [api-flod]');
    expect(() => parsePlaybooks([{ file: 'p.yaml', text }], { ...OPTIONS, rules: ['api-flood'] })).toThrow(
      /p\.yaml:4 triggers\[0\]\.rules\[0\]: no rule has the id "api-flod"/,
    );
  });
});

describe('loadPlaybooks', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('reads the .yaml files of the folders and names a missing folder', () => {
    const folder = mkdtempSync(join(tmpdir(), 'firebreak-playbooks-'));
    dir = folder;
    writeFileSync(join(folder, 'b.yaml'), playbook('b'));
    writeFileSync(join(folder, 'a.yml'), playbook('a'));
    writeFileSync(join(folder, 'notes.md'), 'not a playbook');
    expect(loadPlaybooks([folder], OPTIONS).map((p) => p.id)).toEqual(['a', 'b']);
    const missing = join(folder, 'nope');
    expect(() => loadPlaybooks([folder, missing], OPTIONS)).toThrow(
      `${missing}:1: cannot read the playbook folder (it does not exist)`,
    );
  });
});

describe('the built-in playbooks', () => {
  const ruleIds = loadRules(readRuleFiles(BUILTIN_RULES_DIR)).map((n) => n.id);
  const playbooks = loadPlaybooks([PLAYBOOKS_DIR], { ...OPTIONS, rules: ruleIds });

  it('load with no problems, one per file', () => {
    const files = readdirSync(PLAYBOOKS_DIR).filter((f) => f.endsWith('.yaml'));
    expect(playbooks).toHaveLength(files.length);
  });

  it('cover every containment section of both plans', () => {
    expect(playbooks.map((p) => p.id).sort()).toEqual(
      [
        'payment-incident',
        'admin-compromise',
        'database-compromise',
        'ddos-api-abuse',
        'evidence-preservation',
        'tiktok-api-key-compromise',
        'shipping-carrier-breach',
        'creator-data-exposure',
      ].sort(),
    );
    const byId = new Map(playbooks.map((p) => [p.id, p]));
    expect(byId.get('payment-incident')!.steps[0]!.action).toMatchObject({
      connector: 'decisions',
      operation: 'set_switch',
      params: { switch: 'checkout_enabled', enabled: false },
    });
    expect(byId.get('payment-incident')!.triggers[0]).toMatchObject({ severities: ['P0'], mode: 'proposed' });
    // The brute-force and flood rules grouped by address propose the ban; per-account ones have no address.
    expect(byId.get('ddos-api-abuse')!.triggers[0]!.rules).toEqual([
      'api-flood',
      'user-login-failures-per-ip',
    ]);
    expect(byId.get('admin-compromise')!.triggers[0]!.rules).toContain('admin-login-failures');
    const ops = (id: string) => byId.get(id)!.steps.map((s) => `${s.action.connector}.${s.action.operation}`);
    expect(ops('admin-compromise')).toEqual(
      expect.arrayContaining(['postgres.end_admin_sessions', 'postgres.force_admin_password_reset']),
    );
    expect(ops('database-compromise')).toEqual(
      expect.arrayContaining([
        'postgres.read_only_mode',
        'postgres.revoke_writes',
        'postgres.force_row_level_security',
      ]),
    );
    expect(ops('evidence-preservation')).toEqual(['notify.send']);
  });

  it('every step is undoable or says why not', () => {
    for (const p of playbooks) {
      for (const s of p.steps) {
        if (s.undo.kind === 'none') expect(s.undo.reason, `${p.id}/${s.id}`).not.toBe('');
      }
    }
  });
});
