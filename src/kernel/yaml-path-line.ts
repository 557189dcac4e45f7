/**
 * Finds the line of a path inside a parsed YAML node tree. Problems are found in the plain
 * value (after `toJS()`), but a person edits lines: every reader of hand-edited YAML (config,
 * policies, detection rules) points at the line of the offending key or list item with this.
 */
import { isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

export type YamlPath = readonly (string | number)[];

/**
 * Walks down `root` (a document's `contents`) as far as the path exists; a missing step is
 * reported at the line of its parent, and `fallback` is the line of the document itself.
 *
 * @example lineOfYamlPath(doc.contents, ['aggregation', 'steps', 1], lineCounter, 1)
 */
export function lineOfYamlPath(
  root: unknown,
  path: YamlPath,
  lineCounter: LineCounter,
  fallback = 1,
): number {
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  let node: unknown = root;
  let line = fallback;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(key),
      );
      if (!pair) break;
      const keyNode = pair.key as Node;
      if (keyNode.range) line = lineAt(keyNode.range[0]);
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(key)] as Node | undefined;
      if (!item) break;
      if (item.range) line = lineAt(item.range[0]);
      node = item;
    } else {
      break;
    }
  }
  return line;
}
