// Untrusted text (logs, command, context, reason, ARM's error messages) made inert and small before any
// channel sees it. Channel-specific escaping (Slack mrkdwn) lives with the channel; this is what every
// channel needs: no terminal escape sequences, no control, bidi or other invisible format characters, no
// lone surrogates, cuts that never split a character, and a visible mark where text was cut.

// Terminal escape sequences, payloads included: OSC (titles, hyperlinks) and DCS/SOS/PM/APC strings up to
// their terminator, CSI (colours, cursor moves) in 7- and 8-bit form, and every other ESC sequence.
const ESCAPES =
  /\u001b\][^\u0007\u001b]{0,4096}(?:\u0007|\u001b\\)|\u001b[PX^_][^\u001b]{0,4096}\u001b\\|\u001b\[[0-?]*[ -/]*[@-~]|\u009b[0-?]*[ -/]*[@-~]|\u009d[^\u0007\u009c]{0,4096}[\u0007\u009c]|\u001b[ -/]*[0-~]/g;
// C0 controls but tab and newline, DEL, C1 controls, and format characters (bidi overrides and isolates,
// U+061C, zero-width spaces and joiners, U+FEFF, tags) except the zero-width joiner emoji sequences need.
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]|(?!\u200d)\p{Cf}/gu;
/**
 * What a log line or a terminal must not be handed raw (there it is escaped, not removed, so that it shows):
 * C0/C1 controls, line and paragraph separators, and bidi controls (U+061C, U+200E/F, U+202A-E, U+2066-9),
 * which reorder what a reader sees of the rest of the line.
 */
export const LOG_ESCAPED = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|\p{Bidi_Control}/gu;
const LINE_BREAKS = /\r\n?|[\u2028\u2029\u0085\u000b\u000c]/g;

/** Inert text: escape sequences and invisible characters removed, lone surrogates replaced, newlines normalised. */
export function cleanText(text: string): string {
  return text.toWellFormed().replace(LINE_BREAKS, '\n').replace(ESCAPES, '').replace(INVISIBLE, '');
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The largest grapheme boundary at or before `index` (a cut there never splits a character). */
function boundaryBefore(text: string, index: number): number {
  if (index <= 0) return 0;
  if (index >= text.length) return text.length;
  const from = Math.max(0, index - 64);
  let best = from;
  for (const { index: i } of graphemes.segment(text.slice(from, Math.min(text.length, index + 64)))) {
    if (from + i > index) break;
    best = from + i;
  }
  return best;
}

/** The smallest grapheme boundary at or after `index`. */
function boundaryAfter(text: string, index: number): number {
  if (index <= 0) return 0;
  if (index >= text.length) return text.length;
  const from = Math.max(0, index - 64);
  for (const { index: i } of graphemes.segment(text.slice(from, Math.min(text.length, index + 64)))) {
    if (from + i >= index) return from + i;
  }
  return Math.min(text.length, index + 64);
}

export interface Tail {
  text: string;
  omittedLines: number;
  omittedBytes: number;
}

/** A size for people: bytes below 1 KiB, then KiB, MiB… with one decimal where it says something. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(1).replace(/\.0$/, '')} ${units[u]}`;
}

export function omittedMarker(lines: number, bytes: number): string {
  return `… ${lines} line${lines === 1 ? '' : 's'} (${formatBytes(bytes)}) omitted`;
}

/**
 * The end of already-cleaned `clean` within `maxChars`, cut at a line boundary where possible (errors are
 * usually last), never inside a character. The marker line is not counted; callers reserve room for it.
 */
export function tail(clean: string, maxChars: number): Tail {
  const text = clean.replace(/\n+$/, '');
  if (text.length <= maxChars) return { text, omittedLines: 0, omittedBytes: 0 };
  let start = boundaryAfter(text, text.length - maxChars);
  const nextLine = text.indexOf('\n', start);
  if (nextLine !== -1 && nextLine < text.length - 1 && text.length - nextLine - 1 >= maxChars / 2) start = nextLine + 1;
  const omitted = text.slice(0, start);
  const omittedLines = omitted.split('\n').length - (omitted.endsWith('\n') ? 1 : 0);
  return { text: text.slice(start), omittedLines, omittedBytes: Buffer.byteLength(omitted, 'utf8') };
}

/** A short untrusted value on one line, at most `maxChars` long, cut with a visible "…". */
export function clip(text: string, maxChars: number): string {
  const one = cleanText(text)
    .replace(/\s*\n\s*/g, ' ⏎ ')
    .trim();
  if (one.length <= maxChars) return one;
  if (maxChars <= 1) return maxChars === 1 ? '…' : '';
  return `${one.slice(0, boundaryBefore(one, maxChars - 1))}…`;
}

/**
 * The longest tail of `text` whose rendered form (escaped, fenced, marked) fits `budget` as measured by
 * `size`. Escaping can grow text several times over, so the cut is made on the rendered size, not the raw
 * one. The text is cleaned once; every try cuts the clean text.
 */
export function fitTail(
  text: string,
  budget: number,
  render: (t: Tail) => string,
  size: (rendered: string) => number = (s) => s.length,
): string {
  const clean = cleanText(text);
  let maxChars = Math.max(1, budget);
  for (let i = 0; i < 30; i++) {
    const rendered = render(tail(clean, maxChars));
    const n = size(rendered);
    if (n <= budget) return rendered;
    maxChars = Math.max(0, Math.floor(maxChars * Math.min(0.95, budget / n)));
    if (maxChars === 0) break;
  }
  return render({ text: '', omittedLines: clean.split('\n').length, omittedBytes: Buffer.byteLength(clean, 'utf8') });
}

/** Text from a message on its way to a log line, a reason or a terminal: one line, controls and bidi controls escaped, capped. */
export function escapeForLog(text: string, max = 200): string {
  const escaped = text.replace(LOG_ESCAPED, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped;
}

/** A plain-text table: columns padded to their widest cell, the last column as it is. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i < r.length - 1 ? cell.padEnd(widths[i]!) : cell))
      .join('  ')
      .trimEnd(),
  );
}
