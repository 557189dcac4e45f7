/**
 * What the first loading pass makes of each rule document (an entry), before references between
 * documents are resolved, and the registry of the ids claimed so far and the Sigma rules and
 * correlations those references may name.
 */
import type { YamlPath } from '../kernel/index.js';
import type { Severity } from '../policy/index.js';
import type {
  Aggregation,
  CalendarLimit,
  FilterSpec,
  RuleNode,
  RuleSource,
  Threshold,
} from './rule-definition.js';
import type { DocumentReader } from './rule-documents.js';
import type { Reference } from './rule-fields.js';

/** How a Sigma document is known: its node id, and the `id` / `name` references may use. */
export interface SigmaIdentity {
  readonly nodeId: string;
  readonly id: string | undefined;
  readonly name: string | undefined;
  readonly source: RuleSource;
}

/** What Sigma rules and correlations share. */
export interface SigmaHeader {
  readonly identity: SigmaIdentity;
  readonly title: string;
  readonly severity: Severity;
  readonly description: string;
  readonly calendar: CalendarLimit | undefined;
}

/** A Firebreak rule: its nodes are complete after pass one (it references nothing). */
export interface FirebreakEntry {
  readonly kind: 'firebreak';
  readonly nodes: readonly RuleNode[];
}

/** A Sigma rule; its meta filters and whether it generates are settled in pass two. */
export interface SigmaRuleEntry extends SigmaHeader {
  readonly kind: 'rule';
  readonly filter: FilterSpec;
  readonly groupBy: readonly string[];
  readonly quietMs: number;
}

/** One `aliases` entry of a correlation: the alias, and the field it reads in each named rule. */
export interface AliasEntry {
  readonly name: string;
  readonly path: YamlPath;
  readonly fields: readonly { readonly rule: string; readonly field: string; readonly path: YamlPath }[];
}

/** A Sigma correlation; its `refs` become its inputs in pass two. */
export interface CorrelationEntry extends SigmaHeader {
  readonly kind: 'correlation';
  readonly reader: DocumentReader;
  readonly refs: readonly Reference[];
  readonly aliases: readonly AliasEntry[];
  readonly generate: boolean;
  readonly groupBy: readonly string[];
  readonly windowMs: number;
  readonly aggregation: Aggregation;
  readonly threshold: Threshold;
}

/** A Sigma meta filter: no node of its own, it joins the meta filters of the rules it names. */
export interface MetaFilterEntry {
  readonly kind: 'meta-filter';
  readonly reader: DocumentReader;
  readonly refs: readonly Reference[];
  /** Search identifiers and condition AND-ed to the condition of every rule it names. */
  readonly filter: FilterSpec;
}

/** One valid document after pass one; a document with problems makes no entry. */
export type Entry = FirebreakEntry | SigmaRuleEntry | CorrelationEntry | MetaFilterEntry;

/** A Sigma rule or correlation that references may name; `entry` stays unset when it is invalid. */
export interface SigmaTarget {
  readonly kind: 'rule' | 'correlation';
  readonly identity: SigmaIdentity;
  entry: SigmaRuleEntry | CorrelationEntry | undefined;
}

/** The node ids claimed so far, and the Sigma documents a reference may name. */
export class RuleRegistry {
  private readonly owners = new Map<string, RuleSource>();
  private readonly byId = new Map<string, SigmaTarget>();
  private readonly byName = new Map<string, SigmaTarget>();
  readonly unusedReferences: { reader: DocumentReader; refs: readonly Reference[] }[] = [];

  /** Claims a node id; the second document to claim one gets the problem. */
  claim(r: DocumentReader, id: string, path: YamlPath): void {
    const owner = this.owners.get(id);
    if (owner === undefined) {
      this.owners.set(id, r.source(path));
      return;
    }
    r.problem(
      path,
      `id "${id}" is already used by ${owner.file}:${owner.line}; ids must be unique across all rule files`,
    );
  }

  /** Whether any document, Firebreak or Sigma, claimed `id`: for a better "not found" message. */
  isClaimed(id: string): boolean {
    return this.owners.has(id);
  }

  /** Makes a Sigma rule or correlation nameable by its node id, `id` and `name`. */
  declare(
    r: DocumentReader,
    kind: SigmaTarget['kind'],
    identity: SigmaIdentity | undefined,
  ): SigmaTarget | undefined {
    if (identity === undefined) return undefined;
    const target: SigmaTarget = { kind, identity, entry: undefined };
    if (!this.byId.has(identity.nodeId)) this.byId.set(identity.nodeId, target);
    if (identity.id !== undefined && !this.byId.has(identity.id)) this.byId.set(identity.id, target);
    if (identity.name !== undefined) {
      const other = this.byName.get(identity.name);
      if (other === undefined) this.byName.set(identity.name, target);
      else if (other.identity.nodeId !== identity.nodeId) {
        // Two rules under one name: a reference by that name would be ambiguous.
        const { file, line } = other.identity.source;
        r.problem(['name'], `name "${identity.name}" is already used by ${file}:${line}`);
      }
    }
    return target;
  }

  /** Keeps the references of a document that is invalid anyway: still checked, never used. */
  checkLater(reader: DocumentReader, refs: readonly Reference[]): void {
    this.unusedReferences.push({ reader, refs });
  }

  /** A reference names an `id` first, then a `name`. */
  find(ref: string): SigmaTarget | undefined {
    return this.byId.get(ref) ?? this.byName.get(ref);
  }
}
