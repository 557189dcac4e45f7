/**
 * A playbook as the runner will use it (issue 6): what starts it (triggers) and the steps it
 * takes, each pairing a connector action with its undo, or saying why it has none. Playbooks
 * are YAML files in `playbooks/`; playbook-loader.ts reads and checks them.
 */

export const PHASES = ['containment', 'eradication', 'recovery'] as const;
/** The plan's phases a step belongs to; incidents move through them in this order. */
export type Phase = (typeof PHASES)[number];

/** The KCT plan's phased restoration, in order: a recovery step may name which one it belongs to. */
export const RECOVERY_PHASES = [
  'core_infrastructure',
  'user_services',
  'payments',
  'admin_functions',
] as const;
export type RecoveryPhase = (typeof RECOVERY_PHASES)[number];

export const TRIGGER_MODES = ['automatic', 'proposed'] as const;
/** `automatic`: runs when the trigger matches; `proposed`: offered to the responders to start. */
export type TriggerMode = (typeof TRIGGER_MODES)[number];

/** The variables a parameter template may start with: `{{ incident.id }}`, `{{ alert.group.source.ip }}`. */
export const TEMPLATE_ROOTS = ['incident', 'alerts', 'alert'] as const;

/** Limits a step's timeout and retries are held to. */
export const STEP_LIMITS = {
  minTimeoutMs: 1_000,
  maxTimeoutMs: 24 * 3_600_000,
  defaultTimeoutMs: 5 * 60_000,
  maxRetries: 10,
} as const;

/**
 * The operations of the connectors Firebreak ships, by connector name. The loader checks steps
 * against such a map; once connectors register through manifests, main builds it from them.
 */
export const KNOWN_CONNECTOR_OPERATIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  decisions: ['add', 'delete', 'set_switch'],
  postgres: [
    'end_admin_sessions',
    'force_admin_password_reset',
    'restore_admin_password_reset',
    'read_only_mode',
    'restore_read_only_mode',
    'revoke_writes',
    'grant_writes',
    'force_row_level_security',
    'restore_row_level_security',
    'checkout_off',
    'restore_checkout',
  ],
  http: [
    'cloudflare_block_ip',
    'cloudflare_unblock',
    'stripe_disable_payments',
    'stripe_enable_payments',
    'supabase_emergency_rate_limit',
    'supabase_restore_rate_limit',
    'vercel_set_env',
    'vercel_remove_env',
    'tiktok_revoke_api_key',
    'tiktok_revoke_creator_tokens',
    'tiktok_start_reauthorisation',
    'carrier_disable',
    'carrier_enable',
    'carrier_switch',
    'creator_tokens_reset',
  ],
  notify: ['send'],
});

/** Who must approve a step before it runs: nobody, or whoever holds a response role. */
export type Approval = { readonly kind: 'none' } | { readonly kind: 'role'; readonly role: string };

/** A connector operation and its parameters; string parameters may hold `{{ path }}` templates. */
export interface StepAction {
  readonly connector: string;
  readonly operation: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** How a step is put back: an action, or `none` with the reason it cannot be (a sent message). */
export type StepUndo =
  | { readonly kind: 'action'; readonly action: StepAction }
  | { readonly kind: 'none'; readonly reason: string };

export interface PlaybookStep {
  /** Unique within the playbook; a run records progress by it. */
  readonly id: string;
  readonly title: string;
  readonly phase: Phase;
  /** Where its undo runs in the phased restoration (for a recovery step: what it restores); unset: a default by operation. */
  readonly recoveryPhase: RecoveryPhase | undefined;
  readonly action: StepAction;
  readonly approval: Approval;
  readonly timeoutMs: number;
  /** Further attempts after a retryable failure (0–10). */
  readonly retries: number;
  readonly undo: StepUndo;
  /** Where the step is written, for messages. */
  readonly line: number;
}

/** When a playbook applies: every listed dimension must match (rules OR-ed within, and so on). */
export interface Trigger {
  readonly rules: readonly string[];
  readonly tags: readonly string[];
  readonly severities: readonly string[];
  readonly mode: TriggerMode;
}

export interface Playbook {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly triggers: readonly Trigger[];
  readonly steps: readonly PlaybookStep[];
  readonly source: { readonly file: string; readonly line: number };
}
