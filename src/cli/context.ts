/** What every command group is handed: how to print, and how to reach settings and the server. */
import type { Command } from 'commander';
import { type ConfigOverrides, type FirebreakConfig, loadConfig } from '../config/index.js';
import { ApiClient } from './api-client.js';
import type { Output } from './output.js';

export interface RunningServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface CliDeps {
  /** Opens the store and starts the HTTP server (the composition root provides it). */
  startServer(config: FirebreakConfig, out: (line: string) => void): Promise<RunningServer>;
}

export interface CliContext {
  readonly output: Output;
  readonly deps: CliDeps;
  /** Settings with the global flags (--config, --url, --key) applied. */
  config(extra?: ConfigOverrides): FirebreakConfig;
  client(): ApiClient;
}

export function makeContext(program: Command, output: Output, deps: CliDeps): CliContext {
  const globals = (): ConfigOverrides => {
    const o = program.opts<{ config?: string; url?: string; key?: string }>();
    return {
      ...(o.config ? { configFile: o.config } : {}),
      ...(o.url ? { serverUrl: o.url } : {}),
      ...(o.key ? { apiKey: o.key } : {}),
    };
  };
  const config = (extra: ConfigOverrides = {}) => loadConfig({ ...globals(), ...extra });
  return {
    get output() {
      output.json = Boolean(program.opts<{ json?: boolean }>().json);
      return output;
    },
    deps,
    config,
    client() {
      const c = config();
      return new ApiClient({ baseUrl: c.serverUrl, apiKey: c.apiKey });
    },
  };
}
