/** A rule directory → the texts of its rule files. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isFirebreakError } from '../kernel/index.js';
import { readRuleFiles } from './rule-files.js';

describe('readRuleFiles', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('reads every .yaml and .yml file below the directory, sorted by path', () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-rules-'));
    mkdirSync(join(dir, 'auth', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'z-last.yml'), 'z');
    writeFileSync(join(dir, 'a-first.yaml'), 'a');
    writeFileSync(join(dir, 'auth', 'brute-force.yaml'), 'b');
    writeFileSync(join(dir, 'auth', 'deeper', 'takeover.YML'), 't');
    writeFileSync(join(dir, 'README.md'), 'not a rule');
    writeFileSync(join(dir, 'auth', 'old.yaml.bak'), 'not a rule');
    symlinkSync(join(dir, 'missing.yaml'), join(dir, 'dangling.yaml'));
    expect(readRuleFiles(dir)).toEqual([
      { file: join(dir, 'a-first.yaml'), text: 'a' },
      { file: join(dir, 'auth', 'brute-force.yaml'), text: 'b' },
      { file: join(dir, 'auth', 'deeper', 'takeover.YML'), text: 't' },
      { file: join(dir, 'z-last.yml'), text: 'z' },
    ]);
  });

  it('names a missing directory', () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-rules-'));
    const missing = join(dir, 'nope');
    let error: unknown;
    try {
      readRuleFiles(missing);
    } catch (e) {
      error = e;
    }
    expect(isFirebreakError(error) && error.code).toBe('FB_ERR_RULE_INVALID');
    expect((error as Error).message).toBe(`${missing}: cannot read the rule directory (it does not exist)`);
  });
});
