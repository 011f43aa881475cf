// The notification targets: zero-config ones (SLACK_WEBHOOK_URL…) and named ones (NOTIFY_TARGETS=ops with
// NOTIFY_TARGET_OPS_<OPTION>), each read by its kind's provider. The options every target shares
// (COMMON_TARGET_OPTIONS) are read here; the values of a provider's secret options are collected, so
// that no log line ever shows them.
import * as z from 'zod/mini';
import { ClusterScope, clusterPatternProblem } from '../core/scope';
import { TARGET_NAME } from '../core/targetName';
import type { NotifyOn, Provider, SettingsContext, Target } from '../notify/provider';
import { PROVIDERS, providerFor } from '../notify/registry';
import { ConfigError } from '../core/settingUrls';
import { optional, read, type Env } from './rules';

/** The options every named target has, whatever its kind (docs/settings.md lists each). */
export const COMMON_TARGET_OPTIONS = ['KIND', 'ON', 'LOGS', 'EACH', 'MENTION', 'CLUSTERS'] as const;

/** The common options that are a choice: what each accepts, and what a named target takes when it is unset. */
export const COMMON_TARGET_CHOICES = {
  ON: { values: ['all', 'failure'], default: 'all' },
  LOGS: { values: ['true', 'false'], default: 'true' },
  EACH: { values: ['true', 'false'], default: 'false' },
} as const;

function choice<O extends keyof typeof COMMON_TARGET_CHOICES>(
  env: Env,
  ctx: SettingsContext,
  option: O,
): (typeof COMMON_TARGET_CHOICES)[O]['values'][number] {
  const { values, default: fallback } = COMMON_TARGET_CHOICES[option];
  return read(env, ctx.nameOf(option), z.enum(values), fallback);
}

/** The options of a named target: NOTIFY_TARGET_<NAME>_<OPTION>, hyphens as underscores. */
export function settingPrefix(name: string): string {
  return `NOTIFY_TARGET_${name.toUpperCase().replace(/-/g, '_')}_`;
}

function settingsContext(
  env: Env,
  provider: Provider<unknown>,
  target: string,
  nameOf: (option: string) => string,
  secrets: string[],
): SettingsContext {
  return {
    target,
    nameOf,
    get: (option) => {
      const value = optional(env, nameOf(option));
      if (value !== undefined && provider.options[option]?.secret) secrets.push(value);
      return value;
    },
    shared: (name) => {
      const declared = provider.shared?.[name];
      if (!declared) throw new Error(`${name} is not a shared setting of ${provider.kind}`);
      const value = optional(env, name);
      if (value !== undefined && declared.secret) secrets.push(value);
      return value ?? declared.default;
    },
    fail: (option, message) => {
      throw new ConfigError(nameOf(option), message);
    },
  };
}

function readScope(ctx: SettingsContext): ClusterScope {
  const raw = ctx.get('CLUSTERS');
  const patterns = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of patterns) {
    const problem = clusterPatternProblem(p);
    if (problem) ctx.fail('CLUSTERS', problem);
  }
  return new ClusterScope(patterns);
}

function buildTarget(
  env: Env,
  name: string,
  provider: Provider<unknown>,
  nameOf: (o: string) => string,
  named: boolean,
): Target {
  const secrets: string[] = [];
  const ctx: SettingsContext = settingsContext(env, provider, name, nameOf, secrets);
  const settings = provider.readSettings(ctx);
  const notifyOn: NotifyOn = named ? choice(env, ctx, 'ON') : 'all';
  const includeLogs = named ? choice(env, ctx, 'LOGS') === 'true' : true;
  const each = named ? choice(env, ctx, 'EACH') === 'true' : false;
  const mention = named ? ctx.get('MENTION') : undefined;
  if (mention) {
    if (!provider.validateMention) ctx.fail('MENTION', `is not supported by ${provider.kind} targets`);
    provider.validateMention(ctx, mention);
  }
  return {
    name,
    kind: provider.kind,
    provider,
    settings,
    notifyOn,
    includeLogs,
    ...(each ? { each } : {}),
    ...(mention ? { mention } : {}),
    scope: readScope(ctx),
    secrets,
  };
}

export function loadTargets(env: Env): { targets: Target[]; defaultTargets: string[] } {
  const targets: Target[] = [];
  for (const provider of PROVIDERS) {
    const zero = provider.zeroConfig;
    if (!zero || !optional(env, zero.settings.URL ?? '')) continue;
    const nameOf = (option: string) => zero.settings[option] ?? `${zero.name.toUpperCase()}_${option}`;
    targets.push(buildTarget(env, zero.name, provider as Provider<unknown>, nameOf, false));
  }
  const zeroConfig = targets.map((t) => t.name);

  const named = (optional(env, 'NOTIFY_TARGETS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of named) {
    if (!TARGET_NAME.test(name) || name === 'default') {
      throw new ConfigError(
        'NOTIFY_TARGETS',
        `target name "${name.slice(0, 40)}" must be 1-32 lowercase letters, digits or hyphens (and not "default")`,
      );
    }
    if (targets.some((t) => t.name === name))
      throw new ConfigError('NOTIFY_TARGETS', `target "${name}" is defined twice`);
    const prefix = settingPrefix(name);
    const kinds = PROVIDERS.map((p) => p.kind);
    const kind = optional(env, `${prefix}KIND`);
    if (!kind) throw new ConfigError(`${prefix}KIND`, `is required: ${kinds.join(', ')}`);
    const provider = providerFor(kind);
    if (!provider) throw new ConfigError(`${prefix}KIND`, `must be one of ${kinds.join(', ')}`);
    targets.push(buildTarget(env, name, provider as Provider<unknown>, (option) => `${prefix}${option}`, true));
  }

  const defaultsRaw = optional(env, 'NOTIFY_DEFAULT_TARGETS');
  const defaultTargets = defaultsRaw
    ? defaultsRaw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : zeroConfig.length > 0
      ? zeroConfig
      : targets.map((t) => t.name);
  for (const name of defaultTargets) {
    if (!targets.some((t) => t.name === name)) {
      throw new ConfigError('NOTIFY_DEFAULT_TARGETS', `names "${name.slice(0, 40)}", which is not a configured target`);
    }
  }
  if (targets.length === 0) {
    const zeroConfigUrls = PROVIDERS.flatMap((p) => (p.zeroConfig?.settings.URL ? [p.zeroConfig.settings.URL] : []));
    throw new ConfigError(
      zeroConfigUrls[0] ?? 'NOTIFY_TARGETS',
      `no notification target: set ${[...zeroConfigUrls, 'NOTIFY_TARGETS'].join(', ').replace(/, (?=[^,]*$)/, ' or ')}`,
    );
  }
  return { targets, defaultTargets };
}
