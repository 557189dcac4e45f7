/** Connectors: what playbooks act through. Built in: `decisions` (Firebreak's own blocklist and switches). */
export * from './decisions/index.js';
export * from './http/index.js';
export * from './notify/index.js';
export * from './postgres/index.js';
