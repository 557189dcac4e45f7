/**
 * Reads a rule directory into texts for the loader: the one file of detect/ that touches the
 * disk, so everything after it (loading, compiling, matching) stays pure and testable on strings.
 */
import { type Dirent, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type ErrorDetail, FirebreakError } from '../kernel/index.js';
import type { RuleText } from './rule-loader.js';

const RULE_FILE = /\.ya?ml$/i;

/**
 * Every *.yaml / *.yml file under `dir` (recursive, sorted by path), read as text. Paths keep
 * `dir` as given (`rules/auth/brute-force.yaml`), so messages name the file a person opens.
 * Symbolic links to files are read; links to directories are not followed (no loops).
 * A missing directory or an unreadable file is FB_ERR_RULE_INVALID naming it.
 *
 * @example loadRules(readRuleFiles('rules'))
 */
export function readRuleFiles(dir: string): RuleText[] {
  const problems: ErrorDetail[] = [];
  const paths: string[] = [];

  const walk = (folder: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch (error) {
      problems.push({ path: folder, message: `cannot read the rule directory (${reason(error)})` });
      return;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (RULE_FILE.test(entry.name) && isFile(entry, path)) paths.push(path);
    }
  };
  walk(dir);

  const files: RuleText[] = [];
  for (const path of paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    try {
      files.push({ file: path, text: readFileSync(path, 'utf8') });
    } catch (error) {
      problems.push({ path, message: `cannot read the rule file (${reason(error)})` });
    }
  }

  const first = problems[0];
  if (first !== undefined) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : '';
    throw new FirebreakError(
      'FB_ERR_RULE_INVALID',
      { where: first.path, problem: `${first.message}${more}` },
      { details: problems },
    );
  }
  return files;
}

function isFile(entry: Dirent, path: string): boolean {
  if (entry.isFile()) return true;
  if (!entry.isSymbolicLink()) return false;
  try {
    return statSync(path).isFile();
  } catch {
    return false; // a dangling link is not a rule file
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'it does not exist';
  if (code === 'ENOTDIR') return 'it is not a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? (error as Error).message;
}
