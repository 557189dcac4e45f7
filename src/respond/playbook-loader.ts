/**
 * Reads playbook files (playbooks/*.yaml) and checks them before anything runs: the shape
 * (closed objects, so a misspelt key is an error), then what the shape cannot say (known
 * connectors and operations, approval roles, timeouts, retries, undo, parameter templates,
 * ids unique across files). Every problem of every file is collected and thrown together as
 * one FB_ERR_PLAYBOOK_INVALID whose details read `file:line path: reason`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from 'typebox';
import {
  type ErrorDetail,
  FirebreakError,
  formatDuration,
  isFirebreakError,
  type LocateLine,
  parseDuration,
  parseValidatedYaml,
  type YamlPath,
} from '../kernel/index.js';
import { SEVERITIES } from '../policy/index.js';
import {
  type Approval,
  PHASES,
  type Phase,
  type Playbook,
  type PlaybookStep,
  RECOVERY_PHASES,
  type RecoveryPhase,
  STEP_LIMITS,
  type StepAction,
  type StepUndo,
  TEMPLATE_ROOTS,
  TRIGGER_MODES,
  type Trigger,
  type TriggerMode,
} from './playbook.js';

/** A playbook file's name and text, as read from disk (or written by a test). */
export interface PlaybookText {
  readonly file: string;
  readonly text: string;
}

export interface PlaybookCheckOptions {
  /** Connector name → the names of its operations. */
  readonly connectors: Readonly<Record<string, readonly string[]>>;
  /** The policy's response role ids; an approval names one of them, or `none`. */
  readonly roles: readonly string[];
  /** When given, a trigger's rule ids must be among them. */
  readonly rules?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// The shape, as people write it

const Id = Type.String({
  pattern: '^[a-z0-9][a-z0-9-]*$',
  description: 'lowercase letters, digits and dashes, such as admin-compromise',
});
const Text = Type.String({ minLength: 1 });
const Params = Type.Record(Type.String(), Type.Unknown());
const closed = { additionalProperties: false } as const;

const ActionSchema = Type.Object({ connector: Text, operation: Text, params: Type.Optional(Params) }, closed);
/** Either an action (connector, operation, params) or `none: <reason>`; which one is checked after. */
const UndoSchema = Type.Object(
  {
    connector: Type.Optional(Text),
    operation: Type.Optional(Text),
    params: Type.Optional(Params),
    none: Type.Optional(Text),
  },
  closed,
);
const TriggerSchema = Type.Object(
  {
    rules: Type.Optional(Type.Array(Id, { minItems: 1 })),
    tags: Type.Optional(
      Type.Array(
        Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', description: 'a lowercase tag such as payment' }),
        { minItems: 1 },
      ),
    ),
    severities: Type.Optional(Type.Array(Type.Enum([...SEVERITIES]), { minItems: 1 })),
    mode: Type.Enum([...TRIGGER_MODES]),
  },
  closed,
);
const StepSchema = Type.Object(
  {
    id: Id,
    title: Text,
    phase: Type.Enum([...PHASES]),
    recovery_phase: Type.Optional(Type.Enum([...RECOVERY_PHASES])),
    action: ActionSchema,
    approval: Text,
    timeout: Type.Optional(Type.String()),
    retries: Type.Optional(Type.Integer()),
    undo: Type.Optional(UndoSchema),
  },
  closed,
);
const PlaybookSchema = Type.Object(
  {
    id: Id,
    title: Text,
    description: Type.Optional(Type.String()),
    triggers: Type.Optional(Type.Array(TriggerSchema)),
    steps: Type.Array(StepSchema, { minItems: 1 }),
  },
  closed,
);

interface RawAction {
  connector?: string;
  operation?: string;
  params?: Record<string, unknown>;
}
interface RawStep {
  id: string;
  title: string;
  phase: Phase;
  recovery_phase?: RecoveryPhase;
  action: RawAction;
  approval: string;
  timeout?: string;
  retries?: number;
  undo?: RawAction & { none?: string };
}
interface RawPlaybook {
  id: string;
  title: string;
  description?: string;
  triggers?: { rules?: string[]; tags?: string[]; severities?: string[]; mode: TriggerMode }[];
  steps: RawStep[];
}

// ---------------------------------------------------------------------------------------------
// Problems

class Problems {
  private readonly found: { file: string; line: number; path: string; message: string }[] = [];

  add(file: string, line: number, path: string, message: string): void {
    this.found.push({ file, line, path, message });
  }

  /** Problems in file order (as given), then by line. */
  throwIfAny(fileOrder: readonly string[]): void {
    if (this.found.length === 0) return;
    const order = new Map(fileOrder.map((f, i) => [f, i]));
    const rank = (f: string) => order.get(f) ?? -1;
    const sorted = [...this.found].sort((a, b) => rank(a.file) - rank(b.file) || a.line - b.line);
    const where = (p: (typeof sorted)[number]) =>
      p.path === '' ? `${p.file}:${p.line}` : `${p.file}:${p.line} ${p.path}`;
    const details: ErrorDetail[] = sorted.map((p) => ({ path: where(p), line: p.line, message: p.message }));
    const first = sorted[0]!;
    const more = sorted.length > 1 ? ` (and ${sorted.length - 1} more problem(s))` : '';
    throw new FirebreakError(
      'FB_ERR_PLAYBOOK_INVALID',
      { where: where(first), problem: `${first.message}${more}` },
      { details },
    );
  }
}

/** `['steps', 0, 'action']` → `steps[0].action`. */
function formatPath(path: YamlPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

// ---------------------------------------------------------------------------------------------
// Reading

const PLAYBOOK_FILE = /\.ya?ml$/i;

/**
 * Reads and checks every *.yaml / *.yml file directly inside each folder (sorted by name).
 * Throws one FB_ERR_PLAYBOOK_INVALID listing every problem, including unreadable folders.
 *
 * @example
 * loadPlaybooks([PLAYBOOKS_DIR], { connectors: KNOWN_CONNECTOR_OPERATIONS, roles: RESPONSE_ROLES })
 */
export function loadPlaybooks(dirs: readonly string[], options: PlaybookCheckOptions): Playbook[] {
  const problems = new Problems();
  const texts: PlaybookText[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => PLAYBOOK_FILE.test(n));
    } catch (error) {
      problems.add(dir, 1, '', `cannot read the playbook folder (${reason(error)})`);
      continue;
    }
    for (const name of names.sort()) {
      const file = join(dir, name);
      try {
        texts.push({ file, text: readFileSync(file, 'utf8') });
      } catch (error) {
        problems.add(file, 1, '', `cannot read the playbook file (${reason(error)})`);
      }
    }
  }
  return check(texts, options, problems, [...dirs, ...texts.map((t) => t.file)]);
}

/** The pure half of loadPlaybooks: checks texts already read. */
export function parsePlaybooks(texts: readonly PlaybookText[], options: PlaybookCheckOptions): Playbook[] {
  return check(
    texts,
    options,
    new Problems(),
    texts.map((t) => t.file),
  );
}

function check(
  texts: readonly PlaybookText[],
  options: PlaybookCheckOptions,
  problems: Problems,
  fileOrder: readonly string[],
): Playbook[] {
  const playbooks: Playbook[] = [];
  const seen = new Map<string, string>();
  for (const { file, text } of texts) {
    const playbook = readPlaybook(file, text, options, problems);
    if (playbook === undefined) continue;
    const first = seen.get(playbook.id);
    if (first !== undefined) {
      problems.add(
        file,
        playbook.source.line,
        'id',
        `playbook id "${playbook.id}" is already used by ${first}`,
      );
      continue;
    }
    seen.set(playbook.id, `${file}:${playbook.source.line}`);
    playbooks.push(playbook);
  }
  problems.throwIfAny(fileOrder);
  return playbooks;
}

function readPlaybook(
  file: string,
  text: string,
  options: PlaybookCheckOptions,
  problems: Problems,
): Playbook | undefined {
  let parsed: { value: RawPlaybook; lineOf: LocateLine };
  try {
    parsed = parseValidatedYaml<RawPlaybook>(text, file, PlaybookSchema, 'FB_ERR_PLAYBOOK_INVALID');
  } catch (error) {
    if (!isFirebreakError(error) || error.code !== 'FB_ERR_PLAYBOOK_INVALID') throw error;
    for (const d of error.details) {
      const path = d.path === '' ? [] : d.path.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
      // A schema problem at the top says "must be object"; anything else there is the parser's.
      const message =
        d.path === '' && !d.message.startsWith('must') ? `YAML syntax: ${d.message}` : d.message;
      problems.add(file, d.line ?? 1, formatPath(path), message);
    }
    return undefined;
  }
  const { value: raw, lineOf } = parsed;
  let ok = true;
  const problem = (path: YamlPath, message: string) => {
    ok = false;
    problems.add(file, lineOf(path), formatPath(path), message);
  };

  const knownRules = options.rules && new Set(options.rules);
  const triggers: Trigger[] = (raw.triggers ?? []).map((t, i) => {
    if (!t.rules && !t.tags && !t.severities) {
      problem(['triggers', i], 'a trigger needs rules, tags or severities (or more than one of them)');
    }
    t.rules?.forEach((rule, j) => {
      if (knownRules && !knownRules.has(rule))
        problem(['triggers', i, 'rules', j], `no rule has the id "${rule}"`);
    });
    return { rules: t.rules ?? [], tags: t.tags ?? [], severities: t.severities ?? [], mode: t.mode };
  });

  const stepIds = new Map<string, number>();
  const steps: PlaybookStep[] = raw.steps.map((s, i) => {
    const at = (...rest: (string | number)[]): YamlPath => ['steps', i, ...rest];
    const before = stepIds.get(s.id);
    if (before !== undefined) problem(at('id'), `step id "${s.id}" is already used by steps[${before}]`);
    else stepIds.set(s.id, i);

    const action = readAction(s.action, at('action'), options, problem);
    const approval = readApproval(s.approval, at('approval'), options, problem);
    const timeoutMs = readTimeout(s.timeout, at('timeout'), problem);
    const retries = s.retries ?? 0;
    if (retries < 0 || retries > STEP_LIMITS.maxRetries) {
      problem(at('retries'), `must be a whole number from 0 to ${STEP_LIMITS.maxRetries}, got ${retries}`);
    }
    const undo = readUndo(s.undo, at('undo'), options, problem);
    return {
      id: s.id,
      title: s.title,
      phase: s.phase,
      recoveryPhase: s.recovery_phase,
      action,
      approval,
      timeoutMs,
      retries,
      undo,
      line: lineOf(['steps', i]),
    };
  });

  if (!ok) return undefined;
  return {
    id: raw.id,
    title: raw.title,
    description: raw.description ?? '',
    triggers,
    steps,
    source: { file, line: lineOf(['id']) },
  };
}

type Report = (path: YamlPath, message: string) => void;

function readAction(
  raw: RawAction,
  path: YamlPath,
  options: PlaybookCheckOptions,
  problem: Report,
): StepAction {
  const connector = raw.connector ?? '';
  const operation = raw.operation ?? '';
  const operations = Object.hasOwn(options.connectors, connector) ? options.connectors[connector] : undefined;
  if (operations === undefined) {
    const known = Object.keys(options.connectors).sort().join(', ');
    problem([...path, 'connector'], `unknown connector "${connector}" (known: ${known})`);
  } else if (!operations.includes(operation)) {
    problem(
      [...path, 'operation'],
      `connector "${connector}" has no operation "${operation}" (its operations: ${operations.join(', ')})`,
    );
  }
  const params = raw.params ?? {};
  checkTemplates(params, [...path, 'params'], problem);
  return { connector, operation, params };
}

function readApproval(raw: string, path: YamlPath, options: PlaybookCheckOptions, problem: Report): Approval {
  if (raw === 'none') return { kind: 'none' };
  if (!options.roles.includes(raw)) {
    problem(
      path,
      `must be none or a response role of the policy (${options.roles.join(', ')}), got "${raw}"`,
    );
  }
  return { kind: 'role', role: raw };
}

function readTimeout(raw: string | undefined, path: YamlPath, problem: Report): number {
  if (raw === undefined) return STEP_LIMITS.defaultTimeoutMs;
  const ms = parseDuration(raw);
  const range = `${formatDuration(STEP_LIMITS.minTimeoutMs)} to ${formatDuration(STEP_LIMITS.maxTimeoutMs)}`;
  if (ms === undefined) {
    problem(path, `must be a duration such as 30s, 5m or 1h (${range}), got "${raw}"`);
  } else if (ms < STEP_LIMITS.minTimeoutMs || ms > STEP_LIMITS.maxTimeoutMs) {
    problem(path, `must be from ${range}, got ${raw}`);
  }
  return ms ?? STEP_LIMITS.defaultTimeoutMs;
}

function readUndo(
  raw: RawStep['undo'],
  path: YamlPath,
  options: PlaybookCheckOptions,
  problem: Report,
): StepUndo {
  const hint =
    'an action that puts things back (connector, operation, params) or `none: <why it cannot be undone>`';
  if (raw === undefined) {
    problem(path.slice(0, -1), `every step needs an undo: ${hint}`);
    return { kind: 'none', reason: '' };
  }
  const hasAction = raw.connector !== undefined || raw.operation !== undefined || raw.params !== undefined;
  if (raw.none !== undefined) {
    if (hasAction) problem(path, `give either ${hint}, not both`);
    return { kind: 'none', reason: raw.none };
  }
  if (raw.connector === undefined || raw.operation === undefined) {
    problem(path, `must be ${hint}`);
    return { kind: 'none', reason: '' };
  }
  return { kind: 'action', action: readAction(raw, path, options, problem) };
}

// ---------------------------------------------------------------------------------------------
// Templates: `{{ incident.id }}`, `{{ alert.group.source.ip }}`, `{{ alerts[0].rule_id }}`

const TEMPLATE = /\{\{(.*?)\}\}/g;
const TEMPLATE_PATH = new RegExp(`^(${TEMPLATE_ROOTS.join('|')})(\\.[A-Za-z_][A-Za-z0-9_]*|\\[\\d+\\])*$`);

/**
 * Problems of the `{{ path }}` templates in a string, empty when it is fine.
 *
 * @example templateProblems('block {{ alert.group.source.ip }}') // []
 */
export function templateProblems(text: string): string[] {
  const out: string[] = [];
  for (const [, inner] of text.matchAll(TEMPLATE)) {
    const path = inner!.trim();
    if (!TEMPLATE_PATH.test(path)) {
      out.push(
        `template "{{ ${path} }}" must be a path starting with ${TEMPLATE_ROOTS.join(', ')} (such as {{ incident.id }} or {{ alert.group.source.ip }})`,
      );
    }
  }
  const rest = text.replace(TEMPLATE, '');
  if (rest.includes('{{') || rest.includes('}}')) out.push('has an unclosed "{{" or a stray "}}"');
  return out;
}

function checkTemplates(value: unknown, path: YamlPath, problem: Report): void {
  if (typeof value === 'string') {
    for (const p of templateProblems(value)) problem(path, p);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      checkTemplates(v, [...path, i], problem);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) checkTemplates(v, [...path, k], problem);
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'it does not exist';
  if (code === 'ENOTDIR') return 'it is not a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? (error as Error).message;
}
