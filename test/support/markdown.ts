// The documentation as the docs tests read it: which pages there are, their text outside code, their code
// spans and their fenced code blocks. Kept in one place so that every docs test reads a page the same way.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');

/** Every markdown file under a folder of the repository, as a path relative to the repository. */
export function markdownFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? markdownFiles(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
    )
    .sort();
}

/** The pages a reader meets: README.md, infra/README.md and docs/**. */
export const PAGES = ['README.md', join('infra', 'README.md'), ...markdownFiles('docs')];

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w-]*)/;

/** The text outside fenced code blocks (``` or ~~~), line by line; fenced lines become empty. */
export function withoutFences(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split(/\r?\n/).map((line) => {
    const marker = FENCE.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker)
        fence = undefined;
      return '';
    }
    if (marker) {
      fence = marker;
      return '';
    }
    return line;
  });
}

/** The fenced code blocks of a page: the info string's language, the first line's number, the text. */
export function fencedBlocks(markdown: string): { lang: string; line: number; text: string }[] {
  const blocks: { lang: string; line: number; text: string }[] = [];
  let open: { fence: string; lang: string; line: number; lines: string[] } | undefined;
  markdown.split(/\r?\n/).forEach((line, i) => {
    const m = FENCE.exec(line);
    if (open) {
      if (m && m[1]![0] === open.fence[0] && m[1]!.length >= open.fence.length && line.trim() === m[1]) {
        blocks.push({ lang: open.lang, line: open.line, text: open.lines.join('\n') });
        open = undefined;
      } else open.lines.push(line);
    } else if (m) open = { fence: m[1]!, lang: m[2] ?? '', line: i + 2, lines: [] };
  });
  return blocks;
}

/** A line with its code spans replaced by their text (for headings) or by nothing (for links). */
export function codeSpans(line: string, keep: boolean): string {
  return line.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_m, _ticks: string, code: string) => (keep ? code.trim() : ''));
}

/** The code spans of a line of text, their contents trimmed. */
export function spansOf(line: string): string[] {
  return [...line.matchAll(/(`+)([\s\S]*?[^`])\1(?!`)/g)].map((m) => m[2]!.trim());
}
