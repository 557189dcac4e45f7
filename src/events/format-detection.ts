/** Guesses the format of a log from its first lines, so `firebreak ingest file` needs no flag. */
import { looksLikeCombinedLog } from './nginx-parser.js';
import { isSshdProgram } from './sshd-parser.js';
import { syslogAppName } from './syslog-parser.js';

/** The input formats this module reads. */
export type LogFormat = 'ecs' | 'nginx' | 'sshd' | 'syslog';

/**
 * The format of a log from up to `sampleSize` of its first non-empty lines, or undefined when
 * no line looks like any format (the caller should ask rather than guess).
 *
 * - first non-empty line starts with `{` or `[` → `ecs` (NDJSON or a JSON array);
 * - otherwise each sampled line votes: combined-log shape → `nginx`, syslog envelope → `syslog`;
 * - `syslog` becomes `sshd` when any sampled envelope's program is sshd: an auth.log mixes
 *   sshd with sudo and cron, and both formats read every syslog line the same way.
 *
 * @example detectFormat(text.split('\n')) // 'sshd'
 */
export function detectFormat(lines: Iterable<string>, sampleSize = 20): LogFormat | undefined {
  let sampled = 0;
  let nginx = 0;
  let syslog = 0;
  let sshd = false;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    if (sampled === 0 && (line[0] === '{' || line[0] === '[')) return 'ecs';
    sampled++;
    if (looksLikeCombinedLog(line)) {
      nginx++;
    } else {
      const app = syslogAppName(line);
      if (app !== null) {
        syslog++;
        if (isSshdProgram(app)) sshd = true;
      }
    }
    if (sampled >= sampleSize) break;
  }
  if (nginx === 0 && syslog === 0) return undefined;
  if (nginx > syslog) return 'nginx';
  return sshd ? 'sshd' : 'syslog';
}
