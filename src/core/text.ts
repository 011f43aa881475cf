// Untrusted text (logs, command, context, reason) made safe and small before it is shown anywhere.

// ANSI escapes and control characters other than tab and newline.
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b[@-_]/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function cleanText(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(ANSI, '').replace(CONTROL, '');
}

export interface Tail {
  text: string;
  omittedLines: number;
  omittedBytes: number;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  return `${(bytes / 1024).toFixed(1)} kB`;
}

export function omittedMarker(lines: number, bytes: number): string {
  return `… ${lines} line${lines === 1 ? '' : 's'} (${formatBytes(bytes)}) omitted`;
}

/**
 * The end of `text` within `maxChars`, cut at a line boundary where possible: errors are usually last.
 * The marker line is not counted; callers reserve room for it.
 */
export function tail(text: string, maxChars: number): Tail {
  const clean = cleanText(text).replace(/\n+$/, '');
  if (clean.length <= maxChars) return { text: clean, omittedLines: 0, omittedBytes: 0 };
  let start = clean.length - maxChars;
  const nextLine = clean.indexOf('\n', start);
  if (nextLine !== -1 && nextLine < clean.length - 1 && clean.length - nextLine - 1 >= maxChars / 2) start = nextLine + 1;
  // Never split a surrogate pair.
  if (start > 0 && /[\udc00-\udfff]/.test(clean[start] ?? '')) start += 1;
  const omitted = clean.slice(0, start);
  const omittedLines = omitted.split('\n').length - (omitted.endsWith('\n') ? 1 : 0);
  return { text: clean.slice(start), omittedLines, omittedBytes: Buffer.byteLength(omitted, 'utf8') };
}

/** The start of a short untrusted value, on one line. */
export function clip(text: string, maxChars: number): string {
  const one = cleanText(text).replace(/\s*\n\s*/g, ' ⏎ ').trim();
  if (one.length <= maxChars) return one;
  let end = maxChars - 1;
  if (/[\ud800-\udbff]/.test(one[end - 1] ?? '')) end -= 1;
  return `${one.slice(0, end)}…`;
}

/**
 * The longest tail whose rendered form (escaped, fenced, marked) fits `budget` as measured by `size`.
 * Escaping can grow text several times over, so the cut is made on the rendered size, not the raw one.
 */
export function fitTail(
  text: string,
  budget: number,
  render: (t: Tail) => string,
  size: (rendered: string) => number = (s) => s.length,
): string {
  let maxChars = Math.max(1, budget);
  for (let i = 0; i < 30; i++) {
    const rendered = render(tail(text, maxChars));
    const n = size(rendered);
    if (n <= budget) return rendered;
    maxChars = Math.max(0, Math.floor(maxChars * Math.min(0.95, budget / n)));
    if (maxChars === 0) break;
  }
  return render({ text: '', omittedLines: text.split('\n').length, omittedBytes: Buffer.byteLength(text, 'utf8') });
}
