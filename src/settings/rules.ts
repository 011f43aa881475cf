// Rules the app's setting readers share (config.ts, settings/); a URL in a setting and ConfigError are in
// core/settingUrls.ts, which the providers use too without importing settings/.
import * as z from 'zod/mini';
import { cloudOf } from '../core/clouds';
import { rangeWords } from './defaults';
import { ConfigError, isLoopbackHost, parseHttpsUrl } from '../core/settingUrls';

export type Env = Record<string, string | undefined>;

/** The Storage suffix of the cloud ARM_ENDPOINT names, or undefined (a stand-in, a cloud we do not know). */
export function storageSuffixFor(armEndpoint: string): string | undefined {
  return cloudOf(armEndpoint)?.storageSuffix;
}

export type StorageService = 'queue' | 'table' | 'blob';

/**
 * A Storage URL the caller's (or the app's) Entra token is sent to. Such a token is good for every account
 * its holder can reach, so it goes only to `https://<account>.<service>.<the cloud's suffix>/…`, or to
 * loopback for local use (http allowed there); anything else is refused before any connection is made.
 */
export function parseStorageUrl(setting: string, value: string, service: StorageService, armEndpoint: string): URL {
  const url = parseHttpsUrl(setting, value, true);
  if (isLoopbackHost(url.hostname)) return url;
  const suffix = storageSuffixFor(armEndpoint);
  const shape = `https://<account>.${service}.${suffix ?? '<storage suffix>'}/${service === 'queue' ? '<queue>' : ''}`;
  if (!suffix) {
    throw new ConfigError(
      setting,
      `must be a loopback address: ARM_ENDPOINT names no cloud this app knows (Azure, Azure US Government, Azure China), so no Storage host can be checked, and a Storage token is good for every account`,
    );
  }
  const host = url.hostname.toLowerCase();
  const account = host.endsWith(`.${service}.${suffix}`) ? host.slice(0, -`.${service}.${suffix}`.length) : undefined;
  if (url.protocol !== 'https:' || account === undefined || !/^[a-z0-9]{3,24}$/.test(account) || url.port !== '') {
    throw new ConfigError(
      setting,
      `must be ${shape} (${suffix} is the Storage suffix of ARM_ENDPOINT's cloud), or a loopback address for local use: a Storage token is good for every account it can reach, so it is sent nowhere else`,
    );
  }
  if (url.search || url.hash) throw new ConfigError(setting, `must not carry a query or fragment (a SAS): ${shape}`);
  return url;
}

/** The trimmed value of a setting, or undefined when empty or unset. */
export function optional(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

/** A setting through its schema, or the fallback when unset; an invalid value names the setting. */
export function read<T>(env: Env, name: string, schema: z.ZodMiniType<T>, fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const parsed = schema.safeParse(raw.trim());
  if (!parsed.success) throw new ConfigError(name, parsed.error.issues[0]?.message ?? 'invalid value');
  return parsed.data;
}

export function numberIn(min: number, max: number, integer: boolean) {
  const message = `must be ${rangeWords(min, max, integer)}`;
  return z.pipe(
    z.string().check(z.regex(integer ? /^\d+$/ : /^\d+(\.\d+)?$/, message)),
    z.pipe(z.transform(Number), z.number().check(z.refine((n) => n >= min && n <= max, message))),
  );
}
