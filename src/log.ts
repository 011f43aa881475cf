// Every log line passes through here. Secrets we know of (webhook URLs, bot tokens, storage keys, the
// identity header) are masked in every form they could take in a message — with or without scheme, the
// path alone, URL-encoded, JSON-escaped — and so are shapes of secrets (bearer tokens, JWTs, SAS
// signatures, Slack tokens, Key Vault references). Then the line is made one line: control characters
// from a message or an answer are escaped, so no input can forge a second log line, and so are bidi
// controls, so none can make a line read otherwise than it is written.
import { LOG_ESCAPED } from './core/text';

export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const PATTERNS: RegExp[] = [
  /Bearer\s+[\w.~+/=-]+/gi,
  /eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g,
  /([?&](?:sig|code|token|access_token|client_secret)(?:=|%3D))[^&\s"']+/gi,
  /@Microsoft\.KeyVault\([^)]*\)?/gi,
  /(?:https?:\/\/|https?%3A%2F%2F)?hooks\.slack\.com\S+/gi,
  /\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\/[A-Za-z0-9]+/g,
  /xox[abposre]-[\w-]{8,}/g,
  /AccountKey=[^;\s"']+/gi,
];

/** The forms a secret can take in text: as given, URL-encoded, JSON-escaped; for URLs also without scheme, other scheme, path. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  try {
    const url = new URL(secret);
    if (url.protocol === 'https:' || url.protocol === 'http:') {
      const rest = secret.replace(/^[a-z]+:\/\//i, '');
      forms.add(rest);
      forms.add(`http://${rest}`);
      forms.add(`https://${rest}`);
      const pathAndQuery = `${url.pathname}${url.search}`;
      // The path alone only when it is long enough to be the secret part (a webhook's token is in it).
      if (pathAndQuery.length >= 16) forms.add(pathAndQuery);
      if (url.search.length >= 16) forms.add(url.search.slice(1));
    }
  } catch {
    /* not a URL: the value as it is */
  }
  for (const f of [...forms]) {
    const encoded = encodeURIComponent(f);
    forms.add(encoded);
    forms.add(encoded.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
    forms.add(f.replace(/\//g, '\\/'));
    forms.add(JSON.stringify(f).slice(1, -1));
  }
  return [...forms].filter((f) => f.length >= 8);
}

export function createRedactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  const exact = [
    ...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8).flatMap(secretForms)),
  ].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const s of exact) if (out.includes(s)) out = out.split(s).join('[redacted]');
    for (const p of PATTERNS)
      out = out.replace(p, (m, prefix?: unknown) =>
        typeof prefix === 'string' && m.startsWith(prefix) ? `${prefix}[redacted]` : '[redacted]',
      );
    return out;
  };
}

/** One line, whatever it carries: newlines, other control characters and bidi controls are written as escapes. */
export function oneLine(text: string): string {
  return text.replace(LOG_ESCAPED, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function redactingLog(sink: Log, redact: (text: string) => string): Log {
  return {
    info: (m) => sink.info(oneLine(redact(m))),
    warn: (m) => sink.warn(oneLine(redact(m))),
    error: (m) => sink.error(oneLine(redact(m))),
  };
}

export const consoleLog: Log = {
  info: (m) => console.log(m),
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};

/** An invocation's own log (the host's context.log/warn/error), redacted. */
export function invocationLog(
  context: { log(m: string): void; warn(m: string): void; error(m: string): void },
  redact: (text: string) => string,
): Log {
  return redactingLog(
    { info: (m) => context.log(m), warn: (m) => context.warn(m), error: (m) => context.error(m) },
    redact,
  );
}
