/**
 * `firebreak serve --rules DIR [--no-builtin]`: the server runs the shop's own rules beside (or
 * instead of) the pack, and refuses to start on a bad rule, naming file and line.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ChildServer, spawnServer } from './helpers/child-server.js';
import { ensureBuilt, ROOT, runFirebreak } from './helpers/cli.js';

const GIFT_CARD_RULE = `id: gift-card-drain
title: Many gift card redemptions from one address
severity: P1
description: More than 2 gift card redemptions from one address within a minute.
filter:
  redeem:
    event.action: gift-card-redeem
  condition: redeem
group_by: [source.ip]
window: 1m
aggregation:
  function: count
  condition: { gt: 2 }
`;

beforeAll(() => ensureBuilt(), 120_000);

let work: string;
let server: ChildServer | undefined;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'firebreak-serve-rules-'));
  mkdirSync(join(work, 'shop-rules'));
});
afterEach(async () => {
  await server?.kill();
  server = undefined;
  rmSync(work, { recursive: true, force: true });
});

async function post(url: string, key: string, events: object[]): Promise<void> {
  const response = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
    body: `${events.map((e) => JSON.stringify(e)).join('\n')}\n`,
  });
  expect(response.status).toBe(200);
}

async function incidentTitles(url: string, key: string): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const response = await fetch(`${url}/v1/incidents`, { headers: { authorization: `Bearer ${key}` } });
    const titles = ((await response.json()) as { items: { title: string }[] }).items.map((i) => i.title);
    if (titles.length > 0 || Date.now() > deadline) return titles;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const redemption = (second: number) => ({
  '@timestamp': new Date(Date.UTC(2026, 10, 25, 10, 0, second)).toISOString(),
  event: { action: 'gift-card-redeem' },
  source: { ip: '203.0.113.50' },
});

describe('firebreak serve with rule folders', () => {
  it('runs a rule from --rules beside the pack: 3 redemptions open its incident, 2 do not', async () => {
    writeFileSync(join(work, 'shop-rules', 'gift-card.yaml'), GIFT_CARD_RULE);
    server = await spawnServer({
      workDir: work,
      dataDir: join(work, 'data'),
      args: ['--rules', join(work, 'shop-rules')],
    });
    expect(server.stdout()).toMatch(/^detection: 18 rules \(the built-in pack, .*shop-rules\)$/m);
    const key = server.firstAdminKey!;
    await post(server.url, key, [redemption(0), redemption(10)]);
    // Just under the threshold: give detection time to have run, then nothing.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const none = await fetch(`${server.url}/v1/incidents`, { headers: { authorization: `Bearer ${key}` } });
    expect(((await none.json()) as { items: unknown[] }).items).toEqual([]);
    await post(server.url, key, [redemption(20)]);
    expect(await incidentTitles(server.url, key)).toEqual([
      'Many gift card redemptions from one address (source.ip 203.0.113.50)',
    ]);
  }, 30_000);

  it('runs only the folder with --no-builtin', async () => {
    writeFileSync(join(work, 'shop-rules', 'gift-card.yaml'), GIFT_CARD_RULE);
    server = await spawnServer({
      workDir: work,
      dataDir: join(work, 'data'),
      args: ['--no-builtin', '--rules', 'shop-rules'],
    });
    expect(server.stdout()).toMatch(/^detection: 1 rules \(.*shop-rules\)$/m);
    // The built-in playbooks still load; their triggers on the pack's rules are said to never fire.
    expect(server.stdout()).toMatch(/^playbooks: 8 \(built-in\)/m);
    expect(server.stderr()).toMatch(
      /playbook ddos-api-abuse .* rules this server does not run: api-flood, user-login-failures-per-ip; those triggers never fire/,
    );
  }, 30_000);

  it('refuses to start on bad rules, printing each as file:line, and without any rules', async () => {
    writeFileSync(
      join(work, 'shop-rules', 'gift-card.yaml'),
      GIFT_CARD_RULE.replace('window: 1m', 'window: soon'),
    );
    writeFileSync(
      join(work, 'shop-rules', 'other.yaml'),
      GIFT_CARD_RULE.replace('severity: P1', 'severity: P9'),
    );
    const env = {
      FIREBREAK_DATA_DIR: join(work, 'data'),
      FIREBREAK_PORT: '0',
      FIREBREAK_POLICY: join(ROOT, 'policies', 'kct-menswear.yaml'),
    };
    const bad = await runFirebreak(work, ['serve', '--rules', 'shop-rules'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^firebreak: \S*gift-card\.yaml:10 window: must be a duration/m);
    expect(bad.stderr).toMatch(/^firebreak: \S*other\.yaml:3 severity: must be one of P0, P1, P2, P3/m);
    expect(bad.stdout).not.toMatch(/listening/);

    const none = await runFirebreak(work, ['serve', '--no-builtin'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no rules: builtin_rules is false and no rule folder is given/);
  }, 30_000);
});
