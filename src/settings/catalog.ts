// Every setting this app reads, channels included: the app's own (settings/defaults.ts) and what each
// provider declares (its zero-config settings, its shared settings, the options of a named target). The
// sample settings, infra's app settings and docs/settings.md are checked against this list by tests, so
// that a new channel adds its settings in its own module only.
import { PROVIDERS } from '../notify/registry';
import { CORE_SETTING_NAMES, DEFAULTS } from './defaults';

/** Names of every fixed setting (named targets' options follow the pattern NOTIFY_TARGET_<NAME>_<OPTION>). */
export function settingNames(): string[] {
  const names: string[] = [...CORE_SETTING_NAMES];
  for (const p of PROVIDERS) {
    names.push(...Object.values(p.zeroConfig?.settings ?? {}), ...Object.keys(p.shared ?? {}));
  }
  return [...new Set(names)];
}

/** Every default, as the app applies it (infra/app/settings.json must agree). */
export function settingDefaults(): Record<string, string> {
  const defaults: Record<string, string> = Object.fromEntries(Object.entries(DEFAULTS).map(([k, v]) => [k, String(v)]));
  for (const p of PROVIDERS) {
    for (const [name, s] of Object.entries(p.shared ?? {})) if (s.default !== undefined) defaults[name] = s.default;
  }
  return defaults;
}

/** Fixed settings that hold credentials: zero-config targets' secret options, secret shared settings (a named target's are its provider's secret options). */
export function secretSettingNames(): string[] {
  return PROVIDERS.flatMap((p) => [
    ...Object.entries(p.zeroConfig?.settings ?? {}).flatMap(([option, name]) =>
      p.options[option]?.secret ? [name] : [],
    ),
    ...Object.entries(p.shared ?? {}).flatMap(([name, s]) => (s.secret ? [name] : [])),
  ]);
}
