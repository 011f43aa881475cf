// Every log line passes through here: secrets we know of (webhook URLs, storage keys, the identity
// header) and shapes of secrets (bearer tokens, JWTs, SAS signatures, Key Vault references) are masked.
export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const PATTERNS: RegExp[] = [
  /Bearer\s+[\w.~+/=-]+/gi,
  /eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g,
  /([?&](?:sig|code|token|access_token|client_secret)=)[^&\s"']+/gi,
  /@Microsoft\.KeyVault\([^)]*\)?/gi,
  /https:\/\/hooks\.slack\.com\/\S+/gi,
  /AccountKey=[^;\s"']+/gi,
];

export function createRedactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  const exact = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8))].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const s of exact) out = out.split(s).join('[redacted]');
    for (const p of PATTERNS) out = out.replace(p, (m, prefix?: unknown) => (typeof prefix === 'string' && m.startsWith(prefix) ? `${prefix}[redacted]` : '[redacted]'));
    return out;
  };
}

export function redactingLog(sink: Log, redact: (text: string) => string): Log {
  return {
    info: (m) => sink.info(redact(m)),
    warn: (m) => sink.warn(redact(m)),
    error: (m) => sink.error(redact(m)),
  };
}

export const consoleLog: Log = {
  info: (m) => console.log(m),
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};
