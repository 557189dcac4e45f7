/**
 * Runs the built `firebreak` command (`node dist/main.js`) as a user would: in a scratch
 * working directory, with an environment of its own (no FIREBREAK_* or DATABASE_URL from the
 * developer's shell), optionally with stdin.
 */
import { execFile, execSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'main.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Newest modification time of the sources the build compiles. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.ts') || entry.endsWith('.test.ts') || entry.endsWith('.case.ts')) continue;
    newest = Math.max(newest, statSync(join(dir, entry)).mtimeMs);
  }
  return newest;
}

/** `npm test` builds first; a direct `vitest run` rebuilds when dist is missing or stale. */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(MAIN).mtimeMs;
  } catch {
    built = 0;
  }
  if (built < newestSource(join(ROOT, 'src'))) {
    execSync('npm run build', { cwd: ROOT, stdio: 'pipe' });
  }
}

export function runFirebreak(
  workDir: string,
  args: readonly string[],
  env: Record<string, string> = {},
  timeout = 20_000,
  stdin?: string,
): Promise<CliResult> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [MAIN, ...args],
      {
        cwd: workDir,
        env: { PATH: process.env.PATH ?? '', HOME: workDir, NO_COLOR: '1', ...env },
        timeout,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        done({ code, stdout, stderr });
      },
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
    else child.stdin?.end();
  });
}
