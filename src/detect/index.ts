/**
 * Detection (pure: no I/O). For now the Sigma detection matcher: a rule's `detection:` block
 * compiled into a closure over ECS events. Correlation, windows and rule loading come later.
 */
export { type CompiledDetection, compileDetection } from './sigma-detection.js';
export type { DetectionOptions } from './sigma-value-matcher.js';
