/**
 * Builds the connectors a server runs from their manifests and the `connectors:` blocks of
 * firebreak.yaml (DESIGN.md style rule 7): each block is checked against its connector's own
 * schema, every problem of every block reported together as `file connectors.<id>.<path>:
 * reason`. A connector with no block is not set up: the built-in ones (decisions, notify) need
 * none and are passed in ready-made.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { FirebreakError, parseValidatedYaml } from '../kernel/index.js';
import type { Connector, ConnectorDeps, ConnectorManifest } from './connector.js';

const ajv = new Ajv({ allErrors: true, strict: false });

export interface ConnectorSettings {
  /** `connectors.<id>` blocks as written. */
  readonly blocks: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Where they were written, for messages with lines; undefined: no file (tests). */
  readonly file: string | undefined;
}

/**
 * The connectors by name: the built-in ones, then each manifest whose block is present.
 * Throws FB_ERR_CONNECTOR_CONFIG naming the file, line and setting of each problem, or a block
 * no connector owns.
 *
 * @example buildConnectors([postgresConnectorManifest], { blocks: config.connectors, file }, deps, [decisions])
 */
export function buildConnectors(
  manifests: readonly ConnectorManifest[],
  settings: ConnectorSettings,
  deps: ConnectorDeps,
  builtIn: readonly Connector[] = [],
): Map<string, Connector> {
  const file = settings.file ?? 'firebreak.yaml';
  const known = new Map(manifests.map((m) => [m.id, m]));
  for (const id of Object.keys(settings.blocks)) {
    if (!known.has(id)) {
      throw new FirebreakError('FB_ERR_CONNECTOR_CONFIG', {
        source: `${file} connectors.${id}`,
        problem: `no connector is named ${id} (known: ${[...known.keys()].sort().join(', ') || 'none'})`,
      });
    }
  }
  const out = new Map<string, Connector>(builtIn.map((c) => [c.name, c]));
  for (const manifest of manifests) {
    const block = settings.blocks[manifest.id];
    if (block === undefined) continue;
    if (manifest.configSchema !== undefined) check(manifest, block, settings.file);
    out.set(manifest.id, manifest.create(block, deps));
  }
  return out;
}

/** Checks one block against its connector's schema; with the file at hand, errors carry its lines. */
function check(manifest: ConnectorManifest, block: unknown, file: string | undefined): void {
  const schema = manifest.configSchema as object;
  if (file !== undefined) {
    const wrapper = {
      type: 'object',
      properties: {
        connectors: { type: 'object', properties: { [manifest.id]: schema }, required: [manifest.id] },
      },
      required: ['connectors'],
    };
    parseValidatedYaml(readFileSync(file, 'utf8'), file, wrapper, 'FB_ERR_CONNECTOR_CONFIG');
    return;
  }
  const validate = ajv.compile(schema);
  if (!validate(block)) {
    const first = validate.errors?.[0];
    throw new FirebreakError('FB_ERR_CONNECTOR_CONFIG', {
      source: `connectors.${manifest.id}${(first?.instancePath ?? '').replace(/\//g, '.')}`,
      problem: (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; '),
    });
  }
}
