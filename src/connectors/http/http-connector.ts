/**
 * The `http` connector (issue 6): the plans' curl commands as operations. Each vendor recipe
 * (cloudflare-, stripe-, supabase-, vercel-recipe.ts) speaks that vendor's documented API; the
 * request recipe sends what the shop wrote for APIs with no standard. This file puts them
 * together under one contract: validate() lists every problem, plan() shows the exact requests
 * with secrets as `***` (and reads no secret), run() refuses invalid parameters, reads the
 * secrets it needs from the store only then, and a vendor with no settings block fails with a
 * non-retryable error naming the block to add.
 */
import {
  type ActionOutcome,
  type Connector,
  type ConnectorDeps,
  ConnectorError,
  type ConnectorOperation,
  type RunContext,
} from '../../respond/index.js';
import { cloudflareOperations } from './cloudflare-recipe.js';
import type { CallContext } from './http-call.js';
import { HTTP_OPERATIONS, type HttpOperation } from './http-operations.js';
import type { OperationRecipe, RecipeEnv } from './http-recipe.js';
import { HTTP_DEFAULT_TIMEOUT_MS, type HttpConnectorSettings, REQUEST_OPERATIONS } from './http-settings.js';
import { assertValid, type Params, unknownParams } from './param-checks.js';
import { requestOperations } from './request-recipe.js';
import { stripeOperations } from './stripe-recipe.js';
import { supabaseOperations } from './supabase-recipe.js';
import { vercelOperations } from './vercel-recipe.js';

/**
 * Builds the connector from checked settings. Secrets are read through `deps.secret` when an
 * operation runs, never here and never for a plan.
 *
 * @example createHttpConnector({ cloudflare: { zone_id, api_token_secret: 'cloudflare_token' } }, { secret })
 */
export function createHttpConnector(settings: HttpConnectorSettings, deps: ConnectorDeps): Connector {
  const env: RecipeEnv = {
    async secret(name) {
      try {
        return await deps.secret(name);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'FB_ERR_SECRET_NOT_FOUND') {
          throw new ConnectorError(
            `no secret is named ${name}; store it with \`firebreak secrets set ${name}\``,
            false,
          );
        }
        // Anything else (the store busy, a key that does not open it) is not about this request.
        throw new ConnectorError(
          `secret ${name} could not be read: ${(error as Error).message}`,
          code === undefined,
        );
      }
    },
  };
  const timeoutMs = settings.timeout_ms ?? HTTP_DEFAULT_TIMEOUT_MS;
  const recipes: Record<HttpOperation, OperationRecipe> = {
    ...cloudflareOperations(settings.cloudflare, env),
    ...stripeOperations(settings.stripe, env),
    ...supabaseOperations(settings.supabase, env),
    ...vercelOperations(settings.vercel, env),
    ...requestOperations(settings.requests, REQUEST_OPERATIONS, env),
  };
  const operations = Object.fromEntries(
    HTTP_OPERATIONS.map((name) => [name, operation(recipes[name], timeoutMs)]),
  ) as Record<HttpOperation, ConnectorOperation>;
  return { name: 'http', operations: Object.freeze(operations) };
}

function operation(recipe: OperationRecipe, timeoutMs: number): ConnectorOperation {
  const validate = (params: Params): string[] => {
    const problems: string[] = [];
    if (recipe.params) unknownParams(params, recipe.params, problems);
    recipe.check(params, problems);
    return problems;
  };
  return {
    validate,
    plan(params) {
      assertValid(validate(params));
      return recipe.plan(params);
    },
    async run(params, context?: RunContext): Promise<ActionOutcome> {
      assertValid(validate(params));
      const call: CallContext = { run: context ?? standalone(), timeoutMs };
      return recipe.run(params, call);
    },
  };
}

/** A context for a call made outside a playbook run (a test, a one-off): its own key, no deadline. */
function standalone(): RunContext {
  return {
    idempotencyKey: `standalone/${crypto.randomUUID()}`,
    actor: 'firebreak',
    incidentId: 'none',
    signal: new AbortController().signal,
  };
}
