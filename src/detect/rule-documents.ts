/**
 * The YAML documents of rule files, and where their problems go: parsing a file into documents
 * (one rule each), pointing at the line of a path inside a document, and collecting every
 * problem of every file to throw them together as one FB_ERR_RULE_INVALID.
 */
import { isScalar, LineCounter, parseAllDocuments } from 'yaml';
import {
  type ErrorDetail,
  FirebreakError,
  isFirebreakError,
  lineOfYamlPath,
  type YamlPath,
} from '../kernel/index.js';
import type { FilterSpec, RuleSource } from './rule-definition.js';
import { compileDetection } from './sigma-detection.js';

type Detection = FilterSpec['detection'];

/** Every problem found so far; thrown together, ordered by file and line, once loading is done. */
export class Problems {
  private readonly found: { file: string; line: number; path: string; message: string }[] = [];
  private readonly fileOrder: Map<string, number>;

  /** `files`: the names of the rule files in the order given, which orders the problems. */
  constructor(files: readonly string[]) {
    this.fileOrder = new Map(files.map((file, i) => [file, i]));
  }

  get count(): number {
    return this.found.length;
  }

  add(file: string, line: number, path: YamlPath, message: string): void {
    this.found.push({ file, line, path: formatPath(path), message });
  }

  throwIfAny(): void {
    if (this.found.length === 0) return;
    const order = (file: string) => this.fileOrder.get(file) ?? Number.MAX_SAFE_INTEGER;
    const sorted = [...this.found].sort((a, b) => order(a.file) - order(b.file) || a.line - b.line);
    const details: ErrorDetail[] = sorted.map((p) => ({
      // `file:line path`, so a detail reads on its own as `file:line path: message`.
      path: whereText(p.file, p.line, p.path),
      line: p.line,
      message: p.message,
    }));
    const first = sorted[0]!;
    const more = sorted.length > 1 ? ` (and ${sorted.length - 1} more problem(s))` : '';
    throw new FirebreakError(
      'FB_ERR_RULE_INVALID',
      { where: whereText(first.file, first.line, first.path), problem: `${first.message}${more}` },
      { details },
    );
  }
}

/** One YAML document of a rule file, and how to point at a line inside it. */
export interface RuleDocument {
  readonly file: string;
  /** 1-based position in the file: the id of a Sigma rule that has neither `id` nor `name`. */
  readonly index: number;
  readonly value: unknown;
  lineOf(path: YamlPath): number;
}

/**
 * The rule documents of one file. A document with a syntax error is left out (the others of the
 * file are still read); a file without any rule is a problem.
 */
export function readDocuments(file: string, text: string, problems: Problems): RuleDocument[] {
  const lineCounter = new LineCounter();
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  // One mistake often makes the parser report several errors at the same place; the first
  // names the mistake, the others are consequences.
  const syntax = ([first]: readonly { pos: [number, number]; message: string }[]) => {
    if (first) problems.add(file, lineAt(first.pos[0]), [], `YAML syntax: ${first.message}`);
  };
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if ('empty' in docs) {
    syntax(docs.errors);
    if (docs.errors.length === 0) problems.add(file, 1, [], 'no rule in file');
    return [];
  }
  const out: RuleDocument[] = [];
  let broken = false;
  docs.forEach((doc, i) => {
    // The parser keeps documents apart, so the others of the file are still read.
    if (doc.errors.length > 0) {
      syntax(doc.errors);
      broken = true;
      return;
    }
    // An empty document (a trailing `---`, only comments) holds no rule and is skipped. The
    // parser gives it an empty null scalar, unlike a written `null` or `~`.
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null && contents.source === ''))
      return;
    const start = contents.range ? lineAt(contents.range[0]) : 1;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // yaml refuses alias bombs here ("excessive alias count").
      problems.add(file, start, [], `YAML: ${(error as Error).message}`);
      broken = true;
      return;
    }
    out.push({
      file,
      index: i + 1,
      value,
      lineOf: (path) => lineOfYamlPath(doc.contents, path, lineCounter, start),
    });
  });
  if (out.length === 0 && !broken) problems.add(file, 1, [], 'no rule in file');
  return out;
}

/** A document being read: where it is, and where its problems go. */
export class DocumentReader {
  private readonly problemsBefore: number;

  constructor(
    readonly doc: RuleDocument,
    private readonly problems: Problems,
  ) {
    this.problemsBefore = problems.count;
  }

  /** True while nothing in this document was found wrong. */
  ok(): boolean {
    return this.problems.count === this.problemsBefore;
  }

  problem(path: YamlPath, message: string): undefined {
    this.problems.add(this.doc.file, this.doc.lineOf(path), path, message);
    return undefined;
  }

  source(path: YamlPath): RuleSource {
    return { file: this.doc.file, line: this.doc.lineOf(path) };
  }

  /** `rules/x.yaml:7 filter`, for FilterSpec.where. */
  where(path: YamlPath): string {
    return whereText(this.doc.file, this.doc.lineOf(path), formatPath(path));
  }

  /**
   * Checks a Sigma detection mapping by compiling it (the engine compiles its own copy), and
   * moves a compile error from `detection.selection.user|foo` to the line of that item.
   */
  detection(path: YamlPath, value: unknown): FilterSpec | undefined {
    if (!isPlainMap(value))
      return this.problem(path, 'must be a Sigma detection: search identifiers and a condition');
    try {
      compileDetection(value);
    } catch (error) {
      if (!isFirebreakError(error) || error.code !== 'FB_ERR_RULE_INVALID') throw error;
      const inner = pathInDetection(String(error.params.where ?? 'detection'), value);
      return this.problem([...path, ...inner], String(error.params.problem));
    }
    return { detection: value, where: this.where(path) };
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

export function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `['aggregation', 'steps', 0, 'selection']` → `aggregation.steps[0].selection`. */
function formatPath(path: YamlPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function whereText(file: string, line: number, path: string): string {
  return path === '' ? `${file}:${line}` : `${file}:${line} ${path}`;
}

/**
 * compileDetection names a place as `detection.selection[0].event.action|contains`, where keys
 * may themselves hold dots. Walks the detection value, taking the longest key that fits at each
 * step, to turn it back into path steps.
 */
function pathInDetection(where: string, detection: Detection): YamlPath {
  let rest = where.startsWith('detection') ? where.slice('detection'.length) : '';
  let node: unknown = detection;
  const path: (string | number)[] = [];
  while (rest !== '') {
    const index = /^\[(\d+)\]/.exec(rest);
    if (index !== null && Array.isArray(node)) {
      const i = Number(index[1]);
      path.push(i);
      node = node[i];
      rest = rest.slice(index[0].length);
      continue;
    }
    if (!rest.startsWith('.') || !isPlainMap(node)) break;
    const after = rest.slice(1);
    const key = Object.keys(node)
      .filter((k) => after.startsWith(k) && /^($|[.[])/.test(after.slice(k.length)))
      .sort((a, b) => b.length - a.length)[0];
    if (key === undefined) break;
    path.push(key);
    node = node[key];
    rest = after.slice(key.length);
  }
  return path;
}
