// What the ledger keeps of a producer's command and context, for display only (a target's report shows the
// copy that named it): bounded to fit Table storage, cut with a visible marker, never refused; and read
// back tolerantly.
/**
 * Table storage holds 32K UTF-16 characters a property and 1 MiB an entity, counted as stored: after JSON
 * escaping, which can grow a producer's text sixfold (a `"` becomes `\"`, a control character `\u0001`).
 * The stored copies are for display: what does not fit is cut with a visible marker, never refused.
 */
export const MAX_COMMAND_CHARS = 4000;
const MAX_CONTEXT_VALUE_CHARS = 1000;
export const MAX_CONTEXT_STORED_CHARS = 8000;
export const TRIMMED = '… (trimmed)';

/** The context as stored: at most MAX_CONTEXT_STORED_CHARS of JSON, the longest values cut first. */
export function contextText(context: Record<string, string> | undefined): string | undefined {
  if (!context || Object.keys(context).length === 0) return undefined;
  const entries = Object.entries(context)
    .slice(0, 20)
    .map(([k, v]): [string, string] => [
      k.slice(0, 64),
      v.length > MAX_CONTEXT_VALUE_CHARS ? cut(v, MAX_CONTEXT_VALUE_CHARS) : v,
    ]);
  let text = JSON.stringify(Object.fromEntries(entries));
  // Each round halves one value: ~11 rounds empty a value of 1,000, so this bound is never the one that stops.
  for (let round = 0; text.length > MAX_CONTEXT_STORED_CHARS && round < 20 * 12; round++) {
    // The value that takes the most room once escaped gives up half of itself.
    let widest = 0;
    for (let i = 1; i < entries.length; i++)
      if (JSON.stringify(entries[i]![1]).length > JSON.stringify(entries[widest]![1]).length) widest = i;
    const [key, value] = entries[widest]!;
    const kept = value.endsWith(TRIMMED) ? value.slice(0, -TRIMMED.length) : value;
    entries[widest] = [key, kept.length === 0 ? TRIMMED : cut(kept, Math.floor(kept.length / 2))];
    text = JSON.stringify(Object.fromEntries(entries));
  }
  // Only keys too many and too long to fit could leave it over (the message contract rules that out).
  return text.length <= MAX_CONTEXT_STORED_CHARS ? text : JSON.stringify({ context: TRIMMED });
}

/** The first `max` characters (never half a surrogate pair) and the marker. */
function cut(text: string, max: number): string {
  let end = Math.min(max, text.length);
  if (end > 0 && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
  return `${text.slice(0, end)}${TRIMMED}`;
}

export function parseContext(text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
  } catch {
    return undefined;
  }
}
