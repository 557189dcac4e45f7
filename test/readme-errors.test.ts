/**
 * The README's error and exit-code tables are part of the interface: this keeps them equal to
 * the catalogue and to the two places that map kinds (HTTP status, exit code).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HTTP_STATUS } from '../src/api/index.js';
import { EXIT_CODES } from '../src/cli/index.js';
import { ERROR_CATALOGUE, type ErrorCode } from '../src/kernel/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

function tableRows(afterHeading: string): string[][] {
  const start = readme.indexOf(afterHeading);
  expect(start, `README has a "${afterHeading}" section`).toBeGreaterThan(-1);
  const lines = readme.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

describe('README error table', () => {
  const rows = tableRows('### Errors');
  const byCode = new Map(rows.map((r) => [r[0]!, r]));

  it('lists every catalogue code exactly once, and nothing else', () => {
    expect(rows.map((r) => r[0]).sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
    expect(byCode.size).toBe(rows.length);
  });

  it.each(Object.keys(ERROR_CATALOGUE) as ErrorCode[])(
    '%s has its kind, HTTP status and exit code',
    (code) => {
      const row = byCode.get(code);
      const { kind } = ERROR_CATALOGUE[code];
      expect(row?.[1]).toBe(kind);
      expect(row?.[2]).toBe(String(HTTP_STATUS[kind]));
      expect(row?.[3]).toBe(String(EXIT_CODES[kind]));
      expect(row?.[4]?.length).toBeGreaterThan(0);
    },
  );
});

describe('README exit code table', () => {
  it('names every exit code the CLI can return', () => {
    const documented = new Set(tableRows('### Exit codes').map((r) => Number(r[0])));
    for (const code of new Set(Object.values(EXIT_CODES))) expect(documented).toContain(code);
    expect(documented).toContain(0);
  });
});
