// The full logs in the card's thread. A bot cannot upload a file to a channel, so the logs go as replies:
// Adaptive Cards whose text is in TextRuns (never markdown: inert, as on the card), each request within the
// bot message limit, the pieces together the logs byte for byte. ARM caps logs at 512 kB, which fits in
// REPLIES_MAX replies unless nearly every character needs escaping; beyond that the last reply says how
// much is left out (and whether the card shows their end).
import { formatBytes } from '../../../core/text';
import type { Replies } from './state';

/** Log text per reply, as JSON bytes: well under the 80 KB Microsoft recommends for a bot message (100 KB max). */
const REPLY_TEXT_MAX_BYTES = 60 * 1024;
export const REPLIES_MAX = 10;

const jsonBytes = (s: string) => Buffer.byteLength(JSON.stringify(s), 'utf8') - 2;

/** Splits the logs into pieces of at most `max` JSON bytes, at line ends where a line fits, else at code points. */
export function splitLogs(
  logs: string,
  max = REPLY_TEXT_MAX_BYTES,
  most = REPLIES_MAX,
): { parts: string[]; omittedBytes: number } {
  const parts: string[] = [];
  let current = '';
  let size = 0;
  const flush = () => {
    if (current) parts.push(current);
    current = '';
    size = 0;
  };
  for (const line of logs.split(/(?<=\n)/)) {
    const n = jsonBytes(line);
    if (size + n <= max) {
      current += line;
      size += n;
      continue;
    }
    flush();
    if (n <= max) {
      current = line;
      size = n;
      continue;
    }
    for (const ch of line) {
      const c = jsonBytes(ch);
      if (size + c > max) flush();
      current += ch;
      size += c;
    }
  }
  flush();
  if (parts.length <= most) return { parts, omittedBytes: 0 };
  const kept = parts.slice(0, most);
  const omittedBytes = parts.slice(most).reduce((n, p) => n + Buffer.byteLength(p, 'utf8'), 0);
  return { parts: kept, omittedBytes };
}

/** One reply: a card with the piece in a monospace TextRun, and what part of the whole it is. */
export function replyActivity(replies: Replies, index: number): Record<string, unknown> {
  const { name, title, parts, omittedBytes } = replies;
  const count = parts.length;
  const last = index === count - 1;
  const body: Record<string, unknown>[] = [
    {
      type: 'TextBlock',
      text: `${title}, part ${index + 1} of ${count} (${name})`,
      weight: 'Bolder',
      wrap: true,
    },
    {
      type: 'RichTextBlock',
      inlines: [{ type: 'TextRun', text: parts[index], fontType: 'Monospace', size: 'Small' }],
    },
  ];
  if (last && omittedBytes > 0) {
    body.push({
      type: 'TextBlock',
      text: `The last ${formatBytes(omittedBytes)} are not in this thread (more than ${count} replies)${replies.endShown ? '; the card above shows their end' : ''}.`,
      isSubtle: true,
      wrap: true,
    });
  }
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          type: 'AdaptiveCard',
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          version: '1.4',
          msteams: { width: 'Full' },
          body,
        },
      },
    ],
  };
}
