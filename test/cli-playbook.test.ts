/** `firebreak playbook list|show|check` end to end, through the built command. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runFirebreak } from './helpers/cli.js';

let workDir: string;
const cli = (args: readonly string[]) => runFirebreak(workDir, args, {}, 30_000);

beforeAll(() => {
  ensureBuilt();
  workDir = mkdtempSync(join(tmpdir(), 'firebreak-playbook-'));
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('firebreak playbook', () => {
  it('list shows the built-in playbooks with triggers and steps', async () => {
    const result = await cli(['playbook', 'list']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('payment-incident');
    expect(result.stdout).toContain('proposed: rules api-flood');
    expect(result.stdout).toContain('containment: postgres.end_admin_sessions');
    const json = await cli(['--json', 'playbook', 'list']);
    const ids = (JSON.parse(json.stdout) as { id: string }[]).map((p) => p.id);
    expect(ids).toContain('database-compromise');
    expect(ids).toHaveLength(8);
  });

  it('show prints every step: phase, action and parameters, approval, timeout, retries, undo', async () => {
    const result = await cli(['playbook', 'show', 'payment-incident']);
    expect(result.code).toBe(0);
    for (const text of [
      'checkout-off',
      'containment',
      'decisions.set_switch',
      '"switch":"checkout_enabled"',
      'incident_commander',
      '1m',
      'recovery (payments)',
    ]) {
      expect(result.stdout).toContain(text);
    }
    const json = JSON.parse((await cli(['--json', 'playbook', 'show', 'admin-compromise'])).stdout);
    expect(json.steps[0]).toMatchObject({
      phase: 'containment',
      action: { connector: 'postgres', operation: 'end_admin_sessions' },
      approval: 'incident_commander',
      timeout: '2m',
      retries: 1,
      undo: { none: expect.any(String) },
    });
    const missing = await cli(['playbook', 'show', 'nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no playbook has the id "nope"');
  });

  it('check passes the built-in folder', async () => {
    const result = await cli(['playbook', 'check']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('8 playbook(s) valid');
  });

  it('check exits 2 with every problem as file:line', async () => {
    const dir = join(workDir, 'bad-playbooks');
    mkdirSync(dir, { recursive: true });
    const step = (extra: string) =>
      `id: s\n    title: s\n    phase: containment\n    action: {connector: decisions, operation: add}\n${extra}`;
    writeFileSync(
      join(dir, 'a.yaml'),
      `id: a\ntitle: t\nsteps:\n  - ${step('    approval: ceo\n    undo: {none: why}\n')}`,
    );
    writeFileSync(
      join(dir, 'b.yaml'),
      `id: b\ntitle: t\nsteps:\n  - ${step('    approval: none\n    retries: 99\n')}`,
    );
    const result = await cli(['playbook', 'check', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/a\.yaml:8 steps\[0\]\.approval: must be none or a response role/);
    expect(result.stderr).toMatch(/b\.yaml:9 steps\[0\]\.retries: must be a whole number from 0 to 10/);
    expect(result.stderr).toMatch(/b\.yaml:4 steps\[0\]: every step needs an undo/);
    expect(result.stderr).toContain('[FB_ERR_PLAYBOOK_INVALID]');
  });
});
