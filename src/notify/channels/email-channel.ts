/**
 * Email over SMTP (nodemailer): the internal alert as a plain-text mail (plus HTML when an
 * `alert.html.mustache` template exists). Headers let a mail filter and a person trace it:
 * `Message-ID` is derived from the idempotency key (a retried send is recognisably the same
 * message), `X-Firebreak-Incident`, `X-Firebreak-Idempotency-Key`, `X-Firebreak-Kind` and
 * `Auto-Submitted: auto-generated` (RFC 3834: no vacation auto-replies).
 *
 * Failures: a 4xx SMTP reply, a timeout, a refused or dropped connection → retryable; a 5xx
 * reply (except 503, which is about the session, not the message) → not.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import { type Clock, systemClock } from '../../kernel/index.js';
import { type Channel, DeliveryError, type Notification } from '../notification.js';
import type { MessageTemplates } from '../templates.js';
import { DEFAULT_TIMEOUT_MS, redact } from './http-delivery.js';

/**
 * @example
 * email:
 *   host: smtp.example.com
 *   port: 587
 *   starttls: required
 *   auth: { user: firebreak@shop.example, password: ... }
 *   from: "Firebreak <firebreak@shop.example>"
 */
export interface EmailChannelSettings {
  readonly host: string;
  /** Default 465 when `secure`, else 587. */
  readonly port?: number;
  /** TLS from the first byte (port 465). Default false. */
  readonly secure?: boolean;
  /**
   * When not `secure`: `required` refuses to send without STARTTLS; `opportunistic` (default)
   * upgrades when the server offers it; `never` does not try (a local relay on loopback only).
   */
  readonly starttls?: 'required' | 'opportunistic' | 'never';
  readonly auth?: { readonly user: string; readonly password: string };
  /** The From address, e.g. `Firebreak <firebreak@shop.example>`. */
  readonly from: string;
  /** Connect, greeting and idle-socket timeout. Default 10000. */
  readonly timeoutMs?: number;
  /** Verify the server's certificate. Default true; false only for a self-signed local relay. */
  readonly rejectUnauthorized?: boolean;
}

/** The SMTP error fields this channel reads (nodemailer attaches them to its errors). */
interface SmtpFailure {
  readonly message?: string;
  readonly code?: string;
  readonly responseCode?: number;
  readonly response?: string;
  readonly command?: string;
  readonly permanent?: boolean;
  readonly originalCode?: string;
}

/** Codes for failures that a later attempt will meet again: the settings are wrong. */
const CONFIG_CODES = new Set(['ENOAUTH', 'ECONFIG', 'ETLS', 'EREQUIRETLS', 'EENVELOPE', 'EMESSAGE']);

export class EmailChannel implements Channel {
  readonly kind = 'email' as const;
  private readonly transport: Transporter;
  private readonly port: number;

  constructor(
    private readonly settings: EmailChannelSettings,
    private readonly templates: MessageTemplates,
    private readonly clock: Clock = systemClock,
  ) {
    const timeout = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.port = settings.port ?? (settings.secure ? 465 : 587);
    this.transport = nodemailer.createTransport({
      host: settings.host,
      port: this.port,
      secure: settings.secure ?? false,
      requireTLS: settings.starttls === 'required',
      ignoreTLS: settings.starttls === 'never',
      ...(settings.auth ? { auth: { user: settings.auth.user, pass: settings.auth.password } } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      tls: { rejectUnauthorized: settings.rejectUnauthorized ?? true },
    });
  }

  async deliver(notification: Notification): Promise<void> {
    const { subject, text, html } = this.templates.email(notification.message);
    try {
      await this.transport.sendMail({
        from: this.settings.from,
        to: notification.target,
        subject,
        text,
        ...(html === undefined ? {} : { html }),
        date: this.clock.now(),
        messageId: messageIdFor(notification.idempotencyKey, this.settings.from),
        priority:
          notification.message.severity === 'P0' || notification.message.severity === 'P1'
            ? 'high'
            : 'normal',
        headers: {
          'X-Firebreak-Incident': notification.message.incidentId,
          'X-Firebreak-Idempotency-Key': notification.idempotencyKey,
          'X-Firebreak-Kind': notification.kind,
          'Auto-Submitted': 'auto-generated',
        },
      });
    } catch (error) {
      throw this.toDeliveryError(error as SmtpFailure, notification.target);
    }
  }

  private toDeliveryError(e: SmtpFailure, to: string): DeliveryError {
    const where = `email delivery to ${to} via ${this.settings.host}:${this.port} failed`;
    const secrets = this.settings.auth
      ? [this.settings.auth.password, base64AuthForms(this.settings.auth)].flat()
      : [];
    let cause: string;
    let retryable: boolean;
    if (typeof e.responseCode === 'number' && e.responseCode >= 400) {
      retryable = e.permanent === undefined ? e.responseCode < 500 || e.responseCode === 503 : !e.permanent;
      const reply = (e.response ?? '').replace(/\s+/g, ' ').trim();
      cause = `SMTP ${reply.startsWith(String(e.responseCode)) ? reply : `${e.responseCode} ${reply}`}${e.command ? ` (after ${e.command.split(' ')[0]})` : ''}`;
    } else if (e.code === 'ETIMEDOUT') {
      retryable = true;
      cause = `no answer within ${(this.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s`;
    } else if (e.originalCode === 'ECONNREFUSED' || /ECONNREFUSED/.test(e.message ?? '')) {
      retryable = true;
      cause = 'connection refused';
    } else {
      retryable = !CONFIG_CODES.has(e.code ?? '') && e.code !== 'EAUTH';
      cause = `${e.code ? `${e.code}: ` : ''}${e.message ?? 'unknown error'}`;
    }
    return new DeliveryError(redact(`${where}: ${cause}`, secrets), retryable);
  }
}

/** `<key@domain-of-from>`: the same key gives the same Message-ID on every attempt. */
export function messageIdFor(idempotencyKey: string, from: string): string {
  const domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? 'firebreak.invalid';
  const local = idempotencyKey.replace(
    /[^A-Za-z0-9._-]/g,
    (c) => `=${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return `<${local}@${domain}>`;
}

/** What an AUTH PLAIN / LOGIN exchange puts on the wire, in case a server echoes it back. */
function base64AuthForms(auth: { user: string; password: string }): string[] {
  return [
    Buffer.from(auth.password).toString('base64'),
    Buffer.from(`\u0000${auth.user}\u0000${auth.password}`).toString('base64'),
  ];
}
