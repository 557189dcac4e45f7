/**
 * Turns rule files into the engine's rule nodes (rule-definition.ts), naming the file and line
 * of every problem a person can make. Pure: the files come in as text (rule-files.ts reads them).
 *
 * One YAML document is one rule. Its kind is told by its top-level keys:
 *  - `severity`: a Firebreak rule (firebreak-rule-reader.ts). A document with a plain `filter`
 *    but no `severity` is read as a Firebreak rule too, so that it gets "severity is required"
 *    instead of "not a rule".
 *  - `correlation`: a Sigma correlation over Sigma rules and other correlations.
 *  - `detection`: a Sigma rule.
 *  - `filter.rules`: a Sigma meta filter; as in pySigma, its condition is AND-ed to the
 *    condition of each rule it names (filter files say `condition: not selection`).
 * The Sigma documents are read by sigma-rule-reader.ts. `logsource` is accepted and ignored:
 * every event is already ECS.
 *
 * Loading runs in two passes: every document is read on its own (one bad file does not hide the
 * problems of the others), then references between Sigma documents are resolved across all
 * files (rule-references.ts). Problems are collected and thrown as one FB_ERR_RULE_INVALID
 * listing them all (rule-documents.ts).
 */
import { readFirebreakRule } from './firebreak-rule-reader.js';
import type { RuleNode } from './rule-definition.js';
import { DocumentReader, isPlainMap, Problems, readDocuments } from './rule-documents.js';
import { type Entry, RuleRegistry } from './rule-entries.js';
import { MapFields } from './rule-fields.js';
import { buildNodes, resolveReferences } from './rule-references.js';
import { readCorrelation, readMetaFilter, readSigmaRule } from './sigma-rule-reader.js';

/** One rule file: its path, as messages should name it, and its text. */
export interface RuleText {
  readonly file: string;
  readonly text: string;
}

const NOT_A_RULE =
  'not a rule: expected a Firebreak rule (severity, filter), a Sigma rule (detection), ' +
  'a Sigma correlation (correlation) or a Sigma filter (filter.rules)';

/**
 * Parses and validates every document of every file and resolves references across files.
 * Throws FB_ERR_RULE_INVALID (`rules/x.yaml:7 aggregation.condition: ...`) whose details list
 * every problem found, each with its file and line.
 *
 * @example const nodes = loadRules(readRuleFiles('rules'));
 */
export function loadRules(files: readonly RuleText[]): RuleNode[] {
  const problems = new Problems(files.map((f) => f.file));
  const registry = new RuleRegistry();
  const entries: Entry[] = [];
  for (const file of files) {
    for (const doc of readDocuments(file.file, file.text, problems)) {
      const entry = readDocument(new DocumentReader(doc, problems), registry);
      if (entry !== undefined) entries.push(entry);
    }
  }
  const links = resolveReferences(entries, registry);
  problems.throwIfAny();
  return entries.flatMap((entry) => buildNodes(entry, links));
}

/** Reads one document as the kind its top-level keys tell. */
function readDocument(r: DocumentReader, registry: RuleRegistry): Entry | undefined {
  const value = r.doc.value;
  if (!isPlainMap(value)) return r.problem([], NOT_A_RULE);
  const top = new MapFields(r, value, []);
  if (top.has('severity')) return readFirebreakRule(top, registry);
  if (top.has('correlation')) return readCorrelation(top, registry);
  if (top.has('detection')) return readSigmaRule(top, registry);
  const filter = value.filter;
  if (isPlainMap(filter) && Object.hasOwn(filter, 'rules')) return readMetaFilter(top, registry);
  if (filter !== undefined) return readFirebreakRule(top, registry);
  return r.problem([], NOT_A_RULE);
}
