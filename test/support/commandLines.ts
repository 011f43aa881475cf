// Command lines as the docs and the pipeline examples write them, cut into the words a shell would pass, so
// that tests can check what each line names against the real parsers (the CLI's, azd's documented flags).
// No shell runs: continuations are joined, comments dropped, `&&`, `||`, `;` and `|` end a command, quotes
// make one word, and what a shell or the reader fills in — `$VAR`, `${VAR}`, `$(…)`, `${{ … }}`, a
// `<placeholder>` — is kept inside its word, marked by `isFilledIn`.
import type { Command } from 'commander';
import { buildCli } from '../../src/cli/main';

/** The commands of a script (one or more lines), each as its words. */
export function shellCommands(script: string): string[][] {
  const text = script.replace(/\\\r?\n\s*/g, ' ');
  const commands: string[][] = [];
  for (const line of text.split(/\r?\n/)) {
    let words: string[] = [];
    let word: string | undefined;
    const end = () => {
      if (word !== undefined) words.push(word);
      word = undefined;
    };
    const cut = () => {
      end();
      if (words.length > 0) commands.push(words);
      words = [];
    };
    let i = 0;
    /** From line[i], an opening character, to its closing one (nested, unless the two are the same). */
    const take = (open: string, close: string) => {
      const start = i;
      let depth = 0;
      for (; i < line.length; i++) {
        if (line[i] === open && (open !== close || i === start)) depth++;
        else if (line[i] === close && --depth === 0) break;
      }
      return line.slice(start, ++i);
    };
    while (i < line.length) {
      const ch = line[i]!;
      if (/\s/.test(ch)) {
        end();
        i++;
      } else if (ch === '#' && word === undefined) {
        break;
      } else if (ch === "'") {
        const quoted = take("'", "'");
        word = (word ?? '') + quoted.slice(1, -1);
      } else if (ch === '"') {
        let j = i + 1;
        let inner = '';
        for (; j < line.length && line[j] !== '"'; j++) {
          if (line[j] === '\\' && j + 1 < line.length) inner += line[++j];
          else inner += line[j];
        }
        i = j + 1;
        word = (word ?? '') + inner;
      } else if (ch === '$' && line[i + 1] === '(') {
        i++;
        word = (word ?? '') + '$' + take('(', ')');
      } else if (ch === '$' && line[i + 1] === '{') {
        i++;
        word = (word ?? '') + '$' + take('{', '}');
      } else if (ch === '<' && /[A-Za-z]/.test(line[i + 1] ?? '')) {
        word = (word ?? '') + take('<', '>');
      } else if (ch === '&' && line[i + 1] === '&') {
        cut();
        i += 2;
      } else if (ch === '|' || ch === ';') {
        cut();
        i += line[i + 1] === '|' ? 2 : 1;
      } else {
        word = (word ?? '') + ch;
        i++;
      }
    }
    cut();
  }
  return commands;
}

/** Whether a word holds something the shell or the reader fills in. */
export function isFilledIn(word: string): boolean {
  return /\$|<[A-Za-z][^>]*>|…/.test(word);
}

/** The words after our CLI's name, for a command that runs it (installed, from source, or through npm). */
export function cliWords(words: string[]): string[] | undefined {
  const at = (n: number, ...expected: string[]) => expected.every((w, k) => words[n + k] === w);
  if (at(0, 'aks-command-notifier')) return words.slice(1);
  if (at(0, 'npx', 'aks-command-notifier')) return words.slice(2);
  if (at(0, 'npm', 'run', 'cli', '--')) return words.slice(4);
  if (at(0, 'npm', 'run', 'cli')) return words.slice(3);
  return undefined;
}

/** Parses words with the real CLI, running no action: the subcommand's name and its options. */
export async function parseWithCli(words: string[]): Promise<Record<string, unknown>> {
  const program = buildCli();
  let parsed: Record<string, unknown> | undefined;
  const overrideAll = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    for (const sub of cmd.commands) {
      sub.action((opts: Record<string, unknown>) => {
        parsed = { ...opts, subcommand: sub.name() };
      });
      overrideAll(sub);
    }
  };
  overrideAll(program);
  await program.parseAsync(['node', 'aks-command-notifier', ...words]);
  return parsed ?? { subcommand: undefined };
}

/** Every long and short flag of the CLI, each command's own and the program's. */
export function cliFlags(): Set<string> {
  const flags = new Set<string>();
  const visit = (cmd: Command) => {
    for (const o of cmd.options) {
      if (o.long) flags.add(o.long);
      if (o.short) flags.add(o.short);
      if (o.negate && o.long) flags.add(o.long);
    }
    cmd.commands.forEach(visit);
  };
  visit(buildCli());
  flags.add('--help');
  return flags;
}
