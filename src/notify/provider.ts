// One provider per kind of channel behind one interface, as in Flux's notification-controller. A provider
// owns its channel: the settings it reads (declared, so that the registry can list them for config, infra,
// the sample settings and the docs), their validation, its rendering, one send and the classification of
// the answer, its docs page, and the optional capabilities it declares (a live message, a thread
// attachment, a pace, a token for its service from the app's identity). Retries, deferrals, claims and the
// ledger live in src/delivery/, one path for every provider alike.
// A new kind of channel is one module under providers/ plus one line in registry.ts.
//
// What a provider renders is declared too: a chat channel renders the channel-neutral message (notification.ts)
// and never learns which kind of report it shows; a data channel (`takes: 'report'`: events for other
// systems) takes the structured report (compose.ts) as it is. Neither branches on the report's kind.
import { createHash } from 'node:crypto';
import type { SendFailureClass } from '../core/schedule';
import type { ClusterScope } from '../core/scope';
import type { Rate } from '../core/tokenBucket';
import type { Notification, Outgoing, StructuredReport } from './notification';

export type Form = 'full' | 'minimal';
export type NotifyOn = 'all' | 'failure';

/**
 * One option of a target of this kind: NOTIFY_TARGET_<NAME>_<OPTION>.
 * @public (the contract a new channel is written against)
 */
export interface OptionSpec {
  /** What it holds, for the settings reference. */
  doc: string;
  /** A credential: in Key Vault in Azure (infra's secretSettings), masked in every log line. */
  secret?: boolean;
  /** Shown by `preview` for the example target of this kind. */
  example: string;
}

/**
 * A setting shared by every target of a kind (SLACK_API_URL).
 * @public (the contract a new channel is written against)
 */
export interface SharedSetting {
  doc: string;
  default?: string;
  /** A credential: in Key Vault in Azure (infra's secretSettings), masked in every log line. */
  secret?: boolean;
}

/** Reads one target's settings: named targets use NOTIFY_TARGET_<NAME>_<OPTION>, zero-config ones their own names. */
export interface SettingsContext {
  readonly target: string;
  /** The setting that holds an option, e.g. NOTIFY_TARGET_OPS_URL or SLACK_WEBHOOK_URL. */
  nameOf(option: string): string;
  /** The trimmed value of an option's setting, or undefined when empty or unset. */
  get(option: string): string | undefined;
  /** Stops start-up with an error that names the setting (never its value). */
  fail(option: string, message: string): never;
  /** A setting the provider declares in `shared`, or its default. */
  shared(name: string): string | undefined;
}

export interface RenderOptions {
  /** The target's name (a live message records it, to find its own posts). */
  target?: string;
  includeLogs: boolean;
  mention?: string;
}

export type SendResult =
  /** `note`: delivered, with something to tell the operator (a part that could not be added). */
  | { ok: true; providerState?: string; note?: string }
  | {
      ok: false;
      failure: SendFailureClass;
      detail: string;
      status?: number;
      retryAfterSeconds?: number;
      mayHaveArrived?: boolean;
      /** What the attempt learnt before it failed (a message it posted), kept for the next attempt. */
      providerState?: string;
    };

export interface SendContext {
  timeoutMs: number;
  /** Provider-owned state from the ledger (e.g. where a live message is). */
  providerState?: string;
  /**
   * An earlier attempt may have posted without recording it (its holder died, or its answer never came),
   * at or after this time on the ledger's clock. Providers that can look for their own posts do so first.
   */
  unsureSinceMs?: number;
  /** A token for the audience the provider declares (`appTokenAudience`), from the app's identity. */
  appToken?: string;
  /**
   * Records what the send has learnt so far (a message it has just posted) in the ledger, under the claim,
   * before the send goes on: a holder that dies later leaves it to the next attempt instead of taking it
   * along. `unrecorded`: the ledger did not take it (the send goes on; its result carries the state anyway).
   * `lost`: another delivery holds the target now (its lease ran out): the send stops at once.
   */
  record?: (providerState: string) => Promise<'recorded' | 'unrecorded' | 'lost'>;
  /** The longest one `record` takes (count it in maxSendMs for each one a send makes). */
  recordMs?: number;
}

interface ProviderBase<S> {
  readonly kind: string;
  /** Its page under docs/channels/: setup, settings, limits, answers. */
  readonly docs: string;
  /** The options a named target of this kind reads, besides the common ones (_KIND, _ON, _LOGS, _MENTION, _CLUSTERS). */
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Settings every target of this kind shares. */
  readonly shared?: Readonly<Record<string, SharedSetting>>;
  /** The zero-config target this kind offers (SLACK_WEBHOOK_URL…), if any: its name and the settings of its options. */
  readonly zeroConfig?: { name: string; settings: Readonly<Record<string, string>> };
  readSettings(ctx: SettingsContext): S;
  /** Where to look when the target is wrong, without its value ("the URL in SLACK_WEBHOOK_URL"). */
  describe(settings: S): string;
  /** Settings that identify the channel (URL, channel id…): a changed one is tried again after a failure. */
  identity(settings: S): unknown;
  /** Checks a mention setting, or throws through ctx.fail. Absent: _MENTION is refused for this kind. */
  validateMention?(ctx: SettingsContext, mention: string): void;
  send(settings: S, payload: unknown, ctx: SendContext): Promise<SendResult>;
  /** What the channel would show, as plain text (preview, demo). */
  asText(payload: unknown): string;
  /** The longest one send can take, every HTTP call in it included (the claim lease covers it). */
  maxSendMs(timeoutMs: number): number;

  // Optional capabilities, each served by the one delivery path.
  /**
   * A live message: posted when the command is first seen running, updated in place with the result, and
   * found again after an attempt in doubt, so that a channel sees exactly one message per command.
   */
  readonly liveMessage?: boolean;
  /** The full logs follow in the message's thread when the message cuts them (preview says so). */
  readonly threadAttachment?: boolean;
  /** Spreads sends to one target (a burst of results in one channel) instead of meeting the channel's 429s. */
  readonly pace?: Rate;
  /**
   * Sends carry a token from the app's identity for this audience (a bot service: https://api.botframework.com),
   * fixed in the provider's code, never taken from settings as such (a provider may pick its cloud's audience
   * from a validated setting); the provider sends it to that service only. The app's own resources (ARM,
   * Storage, Key Vault) are refused as audiences.
   */
  readonly appTokenAudience?: string | ((settings: S) => string);
}

/** A chat channel: renders the neutral message, whatever report it carries, within the channel's limits. */
export interface ChatProvider<S = unknown> extends ProviderBase<S> {
  readonly takes?: 'message';
  /** The full form, or the minimal one for a channel that refused it (see Notification's fields). */
  render(message: Notification, options: RenderOptions, form: Form): unknown;
}

/**
 * A data channel: takes the structured report itself, to send on to another system (an event). The minimal
 * form is asked for when its service refused the full one (it may leave out the logs, say).
 * @public (the contract a new channel is written against)
 */
export interface DataProvider<S = unknown> extends ProviderBase<S> {
  readonly takes: 'report';
  render(report: StructuredReport, options: RenderOptions, form: Form): unknown;
}

export type Provider<S = unknown> = ChatProvider<S> | DataProvider<S>;

/** The payload a target's provider sends for what goes out: the message rendered, or the report encoded. */
export function payloadFor(target: Target, outgoing: Outgoing, form: Form): unknown {
  const options = renderOptions(target);
  const provider = target.provider;
  return provider.takes === 'report'
    ? provider.render(outgoing.report, options, form)
    : provider.render(outgoing.message, options, form);
}

export interface Target<S = unknown> {
  name: string;
  kind: string;
  provider: Provider<S>;
  settings: S;
  /** Values of its secret options (config reads them): masked in every log line. */
  secrets?: string[];
  notifyOn: NotifyOn;
  includeLogs: boolean;
  /** A fleet run's members are told one by one too, besides the group's summary (NOTIFY_TARGET_<NAME>_EACH). */
  each?: boolean;
  mention?: string;
  /** Clusters this target may be told about (NOTIFY_TARGET_<NAME>_CLUSTERS; default: all). */
  scope: ClusterScope;
}

/** Whether a target hears of a report: every one, or failures only (what still runs has not failed). */
export function wants(target: Target, failure: boolean): boolean {
  return target.notifyOn === 'all' || failure;
}

function renderOptions(target: Target): RenderOptions {
  return {
    target: target.name,
    includeLogs: target.includeLogs,
    ...(target.mention ? { mention: target.mention } : {}),
  };
}

/** A short hash of what makes the target this target: kept in the ledger, never the values themselves. */
export function fingerprint(target: Target): string {
  const what = JSON.stringify([
    target.kind,
    target.provider.identity(target.settings),
    target.notifyOn,
    target.includeLogs,
    target.mention ?? '',
  ]);
  return createHash('sha256').update(what).digest('hex').slice(0, 16);
}
