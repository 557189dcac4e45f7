/**
 * Keeps a second Firebreak process off an embedded data directory. The lock is an exclusive
 * SQLite lock on a small file beside the database: the operating system drops it when the
 * holder exits, even on SIGKILL, so a crashed server never leaves a stale lock behind.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { FirebreakError } from '../kernel/index.js';

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dir: string): DataDirLock {
  const lockPath = join(dir, 'firebreak.lock');
  const pidPath = join(dir, 'firebreak.pid');
  const lockDb = new BetterSqlite3(lockPath, { timeout: 0 });
  try {
    lockDb.pragma('locking_mode = EXCLUSIVE');
    // A write takes the exclusive lock; EXCLUSIVE locking mode keeps it until the connection closes.
    lockDb.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder;');
    lockDb.prepare('INSERT INTO holder (pid) VALUES (?)').run(process.pid);
  } catch (error) {
    lockDb.close();
    if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
      throw new FirebreakError('FB_ERR_DATA_DIR_LOCKED', { dir, holder: describeHolder(pidPath) });
    }
    throw error;
  }
  writeFileSync(pidPath, `${process.pid}\n`);
  return {
    release() {
      if (lockDb.open) lockDb.close();
    },
  };
}

function describeHolder(pidPath: string): string {
  try {
    const pid = readFileSync(pidPath, 'utf8').trim();
    return pid ? ` (pid ${pid})` : '';
  } catch {
    return '';
  }
}
