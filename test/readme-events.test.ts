/** The README's event examples must be events Firebreak accepts, one per action of the vocabulary. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parseText } from '../src/events/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const VOCABULARY = [
  'login',
  'user-created',
  'schema-change',
  'data-access',
  'payment',
  'request',
  'order-access',
  'file-upload',
  'file-download',
  'token-revoked',
];

it('documents every action of the vocabulary with an example that parses', () => {
  const section = readme.slice(readme.indexOf('## Events the shop sends'));
  const block = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  expect(block).toBeDefined();
  const { events, rejected } = parseText(block!, 'ecs');
  expect(rejected).toEqual([]);
  const actions = events.map((e) => (e.event.event as { action: string }).action);
  expect(actions).toEqual(VOCABULARY);
});
