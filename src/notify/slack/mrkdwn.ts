// Slack mrkdwn for untrusted text: what Slack parses, made inert.
import { clip } from '../../core/text';

/** Escaping these three defuses <!channel>, <@U…>, <#C…> and <url|label>. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Inside a ``` block, a run of three backticks would end the block: break every run with a zero-width space. */
export function guardCodeFence(text: string): string {
  const inner = text.replace(/`(?=`)/g, '`\u200b');
  return `${inner.startsWith('`') ? '\u200b' : ''}${inner}${inner.endsWith('`') ? '\u200b' : ''}`;
}

/** `clip` for text that is escaped afterwards: the escaped result stays within `max`. */
export function clipEscaped(text: string, max: number, escape: (s: string) => string = slackEscape): string {
  let n = max;
  for (;;) {
    const out = escape(clip(text, n));
    if (out.length <= max || n <= 1) return out;
    n = Math.floor(n * Math.min(0.9, max / out.length));
  }
}
