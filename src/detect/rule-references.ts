/**
 * The second loading pass: resolves the references between Sigma documents across all files
 * (correlation inputs and aliases, meta filters), reports unknown names and reference cycles,
 * settles which rules alert on their own (`generate`), then builds the engine's nodes.
 */
import type { AggregateNode, FilterNode, FilterSpec, RuleNode } from './rule-definition.js';
import type { DocumentReader } from './rule-documents.js';
import type { CorrelationEntry, Entry, RuleRegistry, SigmaTarget } from './rule-entries.js';
import type { Reference } from './rule-fields.js';

/** What pass two learned: each correlation's inputs, who generates, and the meta filters of each rule. */
export interface Links {
  readonly inputs: ReadonlyMap<
    CorrelationEntry,
    readonly { node: string; fieldFor: Record<string, string> }[]
  >;
  /** Node id → whether a correlation that references it says `generate: true`. */
  readonly referenced: ReadonlyMap<string, boolean>;
  /** Node id of a Sigma rule → the meta filters naming it, in loading order. */
  readonly metaFilters: ReadonlyMap<string, FilterSpec[]>;
}

/**
 * Resolves every reference of every entry (a reference names an `id` first, then a `name`);
 * the problems go to the document that holds the reference.
 */
export function resolveReferences(entries: readonly Entry[], registry: RuleRegistry): Links {
  const targetsOf = new Map<CorrelationEntry, (SigmaTarget | undefined)[]>();
  const referenced = new Map<string, boolean>();
  const metaFilters = new Map<string, FilterSpec[]>();

  const resolve = (r: DocumentReader, ref: Reference): SigmaTarget | undefined => {
    const target = registry.find(ref.text);
    if (target !== undefined) return target;
    const hint = registry.isClaimed(ref.text)
      ? `; "${ref.text}" is a Firebreak rule, which Sigma correlations and filters cannot reference`
      : '';
    return r.problem(ref.path, `no Sigma rule or correlation has the id or name "${ref.text}"${hint}`);
  };

  for (const entry of entries) {
    if (entry.kind === 'correlation') {
      const targets = entry.refs.map((ref) => resolve(entry.reader, ref));
      targetsOf.set(entry, targets);
      for (const t of targets) {
        if (t !== undefined)
          referenced.set(t.identity.nodeId, (referenced.get(t.identity.nodeId) ?? false) || entry.generate);
      }
    } else if (entry.kind === 'meta-filter') {
      for (const ref of entry.refs) {
        const t = resolve(entry.reader, ref);
        if (t === undefined) continue;
        if (t.kind === 'correlation') {
          entry.reader.problem(
            ref.path,
            `"${ref.text}" is a correlation; a Sigma filter applies to Sigma rules`,
          );
          continue;
        }
        const list = metaFilters.get(t.identity.nodeId) ?? [];
        list.push(entry.filter);
        metaFilters.set(t.identity.nodeId, list);
      }
    }
  }

  for (const { reader, refs } of registry.unusedReferences) for (const ref of refs) resolve(reader, ref);

  reportCycles(targetsOf);
  const inputs = new Map<CorrelationEntry, { node: string; fieldFor: Record<string, string> }[]>();
  for (const [entry, targets] of targetsOf) {
    const fieldFor = aliasFields(entry, targets);
    inputs.set(
      entry,
      targets.map((t, i) => ({ node: t?.identity.nodeId ?? '', fieldFor: fieldFor[i]! })),
    );
  }
  return { inputs, referenced, metaFilters };
}

/** A correlation may not reach itself through its references. */
function reportCycles(targetsOf: ReadonlyMap<CorrelationEntry, readonly (SigmaTarget | undefined)[]>): void {
  const state = new Map<CorrelationEntry, 'visiting' | 'done'>();
  const stack: CorrelationEntry[] = [];
  const visit = (entry: CorrelationEntry) => {
    state.set(entry, 'visiting');
    stack.push(entry);
    (targetsOf.get(entry) ?? []).forEach((t, i) => {
      const next = t?.entry;
      if (next?.kind !== 'correlation') return;
      const seen = state.get(next);
      if (seen === 'visiting') {
        const loop = [...stack.slice(stack.indexOf(next)), next].map((e) => e.identity.nodeId);
        entry.reader.problem(entry.refs[i]!.path, `reference cycle: ${loop.join(' → ')}`);
      } else if (seen === undefined) {
        visit(next);
      }
    });
    stack.pop();
    state.set(entry, 'done');
  };
  for (const entry of targetsOf.keys()) if (!state.has(entry)) visit(entry);
}

/**
 * `aliases: {ip: {rule_a: source.ip, rule_b: destination.ip}}` → for each input, alias → its
 * field. An alias must name a field for every referenced rule (by the reference as written, or
 * the rule's id or name) and nothing else.
 */
function aliasFields(
  entry: CorrelationEntry,
  targets: readonly (SigmaTarget | undefined)[],
): Record<string, string>[] {
  const out = targets.map(() => ({}) as Record<string, string>);
  for (const alias of entry.aliases) {
    const used = new Set<string>();
    targets.forEach((t, i) => {
      if (t === undefined) return;
      const ref = entry.refs[i]!.text;
      const names = [ref, t.identity.id, t.identity.name, t.identity.nodeId];
      const match = alias.fields.find((f) => names.includes(f.rule));
      if (match === undefined) {
        entry.reader.problem(
          alias.path,
          `names no field for rule "${ref}"; an alias gives every rule of the correlation its field`,
        );
        return;
      }
      out[i]![alias.name] = match.field;
      used.add(match.rule);
    });
    if (targets.some((t) => t === undefined)) continue;
    for (const f of alias.fields) {
      if (!used.has(f.rule)) {
        const refs = entry.refs.map((r) => r.text).join(', ');
        entry.reader.problem(f.path, `is not one of this correlation's rules (${refs})`);
      }
    }
  }
  return out;
}

/** The nodes of one entry, with what pass two learned about it. */
export function buildNodes(entry: Entry, links: Links): RuleNode[] {
  switch (entry.kind) {
    case 'firebreak':
      return [...entry.nodes];
    case 'meta-filter':
      return [];
    case 'rule': {
      const id = entry.identity.nodeId;
      const node: FilterNode = {
        type: 'filter',
        id,
        title: entry.title,
        severity: entry.severity,
        description: entry.description,
        filter: entry.filter,
        metaFilters: links.metaFilters.get(id) ?? [],
        calendar: entry.calendar,
        generates: generates(id, links),
        groupBy: entry.groupBy,
        quietMs: entry.quietMs,
        source: entry.identity.source,
      };
      return [node];
    }
    case 'correlation': {
      const id = entry.identity.nodeId;
      const node: AggregateNode = {
        type: 'aggregate',
        id,
        title: entry.title,
        severity: entry.severity,
        description: entry.description,
        inputs: links.inputs.get(entry) ?? [],
        groupBy: entry.groupBy,
        windowMs: entry.windowMs,
        aggregation: entry.aggregation,
        threshold: entry.threshold,
        calendar: entry.calendar,
        generates: generates(id, links),
        source: entry.identity.source,
      };
      return [node];
    }
  }
}

/** A Sigma rule or correlation alerts on its own unless only correlations without `generate` use it. */
function generates(nodeId: string, links: Links): boolean {
  return links.referenced.get(nodeId) ?? true;
}
