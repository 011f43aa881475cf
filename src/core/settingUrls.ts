// A setting that holds a URL, and the error that names a wrong setting: shared by the app's settings
// (settings/) and each channel's own (notify/providers/), which must not depend on each other's folders.
// Pure: no environment is read here.

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Whether a host is this machine (local stand-ins, the Storage emulator). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** An https URL without credentials (http only on loopback, for local stand-ins, where allowed). */
export function parseHttpsUrl(setting: string, value: string, allowLoopbackHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(setting, 'is not a valid URL');
  }
  if (url.username || url.password) throw new ConfigError(setting, 'must not contain credentials');
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && allowLoopbackHttp && isLoopbackHost(url.hostname)) return url;
  throw new ConfigError(setting, allowLoopbackHttp ? 'must be https (http only on loopback)' : 'must be https');
}
