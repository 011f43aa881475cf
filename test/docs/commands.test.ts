// What the docs tell a reader to type, and the names they use, exist. Every `aks-command-notifier` command
// line of a page and of the changelog — in shell blocks, a pipeline's YAML steps, command substitutions and
// code spans — parses with the CLI's own parser (a synopsis, `[--flag <x>]…`, and a fragment in the text
// name only flags of their command); every `azd` command line names an azd command and flags azd documents
// (its usage snapshots, vendored in test/support/schemas/azd/, at the commit named there), and the variables
// it sets or reads are the deployment's inputs, outputs or azd's own; a flag named on its own in the text
// is the CLI's, azd's or one of a few other tools' listed here; a word that looks like our CLI's or azd's
// name is one; the outputs the docs list are the template's outputs, all of them; every `UPPER_CASE_NAME`
// a page names is in the code (tests' knobs included) or recorded by the changelog; and every version a
// page or example names is one the changelog records, the newest being package.json's and azure.yaml's.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildCli } from '../../src/cli/main';
import { cliFlags, cliWords, isFilledIn, parseWithCli, shellCommands } from '../support/commandLines';
import { fencedBlocks, PAGES, ROOT, spansOf, withoutFences } from '../support/markdown';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Line {
  page: string;
  line: number;
  words: string[];
  /** A fragment in the text, or a synopsis (`[--flag]…`): only its command and flags are checked. */
  partial: boolean;
  text: string;
}

/** The pages, and the changelog (which names commands and flags too). */
const DOCS = [...PAGES, 'CHANGELOG.md'];

/** The commands run inside a word's command substitutions, `$(…)`, however deep. */
function substituted(words: string[]): string[][] {
  const inner: string[][] = [];
  for (const word of words) {
    for (let at = word.indexOf('$('); at >= 0; at = word.indexOf('$(', at + 2)) {
      let depth = 0;
      let end = at + 1;
      for (; end < word.length; end++) {
        if (word[end] === '(') depth++;
        else if (word[end] === ')' && --depth === 0) break;
      }
      for (const words of shellCommands(word.slice(at + 2, end))) inner.push(words, ...substituted(words));
    }
  }
  return inner;
}

/** A synopsis's words: its flags and values, the brackets and ellipses of its notation and its comment gone. */
function synopsisWords(text: string): string[] {
  return text
    .replace(/\s#\s.*$/, '')
    .split(/\s+/)
    .map((w) => w.replace(/^[[(]+|[\])]+(\.\.\.|…)?$|(\.\.\.|…)$/g, ''))
    .filter(Boolean);
}

/**
 * Every command line of every page: in its shell code blocks (a pipeline's YAML step too), inside their
 * command substitutions, and in the code spans of its text.
 */
function commandLines(): Line[] {
  const lines: Line[] = [];
  for (const page of DOCS) {
    const markdown = read(page);
    for (const block of fencedBlocks(markdown)) {
      const yaml = ['yaml', 'yml'].includes(block.lang);
      if (!yaml && !['bash', 'sh', 'shell', 'console', ''].includes(block.lang)) continue;
      // In a pipeline's YAML, a step's script: only the lines that run our CLI or azd are read.
      const raw = block.text
        .split('\n')
        .map((l) => (yaml ? l.replace(/^\s*(?:-\s+)?(?:run|script|inlineScript):\s*[|>]?\s*/, '').trimStart() : l));
      for (let i = 0; i < raw.length; i++) {
        const first = i;
        let text = raw[i]!;
        while (/\\$/.test(text) && i + 1 < raw.length) text = text.slice(0, -1) + ' ' + raw[++i]!.trim();
        if (yaml && !/^(aks-command-notifier|azd) /.test(text)) continue;
        if (cliWords(text.trim().split(/\s+/))) {
          // A synopsis: its notation (`[--flag]`, `(a | b)`, `...`), its lines after the first indented.
          while (!yaml && i + 1 < raw.length && /^\s+[-[(]/.test(raw[i + 1]!)) text += ' ' + raw[++i]!.trim();
          if (/\[-|\(-|\]\.\.\.|\]…/.test(text)) {
            lines.push({ page, line: block.line + first, words: synopsisWords(text), partial: true, text });
            continue;
          }
        }
        for (const words of shellCommands(text)) {
          for (const w of [words, ...substituted(words)])
            lines.push({ page, line: block.line + first, words: w, partial: false, text });
        }
      }
    }
    withoutFences(markdown).forEach((text, i) => {
      for (const span of spansOf(text)) {
        for (const words of shellCommands(span)) {
          for (const w of [words, ...substituted(words)]) {
            if (/^(aks-command-notifier|azd|npm run cli --) /.test(w.join(' ')) || w !== words)
              lines.push({ page, line: i + 1, words: w, partial: true, text: span });
          }
        }
      }
    });
  }
  return lines;
}

const where = (l: Line) => `${l.page}:${l.line}: ${l.text}`;

/** The CLI's subcommand of that name, or undefined. */
function subcommand(name: string | undefined): Command | undefined {
  return buildCli().commands.find((c) => c.name() === name || c.aliases().includes(name ?? ''));
}

function flagsOf(cmd: Command): Set<string> {
  const flags = new Set(['--help', '-h']);
  for (const o of cmd.options) {
    if (o.long) flags.add(o.long);
    if (o.short) flags.add(o.short);
  }
  return flags;
}

/** azd's commands as its usage snapshots document them: the command's words, and every flag it takes. */
function azdCommands(): Map<string, Set<string>> {
  const dir = join(ROOT, 'test', 'support', 'schemas', 'azd', 'cli', 'azd', 'cmd', 'testdata');
  const commands = new Map<string, Set<string>>();
  for (const file of readdirSync(dir)) {
    const name = /^TestUsage-azd-(.+)\.snap$/.exec(file)?.[1];
    if (!name) continue;
    const text = readFileSync(join(dir, file), 'utf8');
    const usage = /^Usage\n\s+azd ([a-z -]+?)(?: \[| <|$)/m.exec(text)?.[1];
    assert.ok(usage, `${file}: no usage line`);
    const flags = new Set<string>();
    for (const m of text.matchAll(/^\s+(?:(-\w), )?(--[\w-]+)/gm)) {
      if (m[1]) flags.add(m[1]);
      flags.add(m[2]!);
    }
    commands.set(usage.trim(), flags);
  }
  return commands;
}

/** The azd command a line runs: the longest documented command its words begin with. */
function azdCommandOf(words: string[], commands: Map<string, Set<string>>): string | undefined {
  const positional = words.slice(1).filter((w) => !w.startsWith('-'));
  for (let n = Math.min(positional.length, 3); n >= 1; n--) {
    const name = positional.slice(0, n).join(' ');
    if (commands.has(name)) return name;
  }
  return undefined;
}

/** The template's outputs (infra/main.bicep) and the azd variables its parameters are read from. */
const OUTPUTS = [...read('infra/main.bicep').matchAll(/^output (\w+) /gm)].map((m) => m[1]!);
const INPUTS = [...read('infra/main.parameters.json').matchAll(/\$\{(\w+)/g)].map((m) => m[1]!);
/** Variables azd itself keeps in an environment (azd env new's flags, and azd's own bookkeeping). */
const AZD_OWN = ['AZURE_ENV_NAME', 'AZURE_LOCATION', 'AZURE_SUBSCRIPTION_ID', 'AZURE_PRINCIPAL_ID', 'AZURE_TENANT_ID'];
/** Other tools' flags the text names on their own, by tool (a page says whose each is). */
const OTHER_FLAGS: Record<string, string[]> = {
  az: ['--scope', '--query', '--no-wait'],
  node: ['--test-force-exit', '--test-isolation'],
  'npm run teams-app': ['--bot-id'],
};

describe('docs: commands', () => {
  const lines = commandLines();

  it('finds the command lines of the pages, code blocks and text alike', () => {
    const cli = lines.filter((l) => cliWords(l.words));
    const azd = lines.filter((l) => l.words[0] === 'azd');
    assert.ok(cli.some((l) => l.page === 'docs/quickstart.md' && !l.partial && l.words.includes('doctor')));
    assert.ok(
      cli.some((l) => l.page === 'README.md' && l.partial && l.words.includes('--raw')),
      'a synopsis',
    );
    assert.ok(azd.some((l) => l.page === 'docs/quickstart.md' && l.words[1] === 'up'));
    assert.ok(cli.length >= 20 && azd.length >= 20, `${cli.length} CLI and ${azd.length} azd command lines`);
  });

  it('every aks-command-notifier command line parses with the CLI', async () => {
    const wrong: string[] = [];
    for (const l of lines) {
      if (
        /^aks-comm|^azd./.test(l.words[0] ?? '') &&
        !['aks-command-notifier', 'aks-command-notifier-cli'].includes(l.words[0]!)
      )
        wrong.push(`${where(l)}: ${l.words[0]} is neither the CLI nor azd`);
      const words = cliWords(l.words);
      if (!words) continue;
      const sub = words.find((w) => !w.startsWith('-'));
      if (sub !== undefined && isFilledIn(sub)) continue; // `<command>`: any of them
      const cmd = subcommand(sub);
      if (words[0]?.startsWith('-')) {
        for (const w of words.filter((x) => x.startsWith('-')))
          if (!['--version', '--help', '-h'].includes(w)) wrong.push(`${where(l)}: ${w} is no flag of the CLI`);
        continue;
      }
      if (!cmd) {
        wrong.push(`${where(l)}: no command ${sub}`);
        continue;
      }
      if (l.partial) {
        const flags = flagsOf(cmd);
        for (const w of words) {
          const flag = /^(--?[A-Za-z][\w-]*)(?:=.*)?$/.exec(w)?.[1];
          if (flag && !flags.has(flag)) wrong.push(`${where(l)}: ${flag} is no flag of ${cmd.name()}`);
        }
        continue;
      }
      try {
        await parseWithCli(words);
      } catch (e) {
        const err = e as { code?: string; message: string };
        // A value the reader fills in (`<id>`, `$CLUSTER`) may not pass a value's check: that is theirs to do.
        const value = /argument '([^']*)' is invalid/.exec(err.message)?.[1];
        if (err.code === 'commander.invalidArgument' && value !== undefined && isFilledIn(value)) continue;
        wrong.push(`${where(l)}: ${err.message}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("every azd command line is an azd command, with flags azd documents and the deployment's variables", () => {
    const commands = azdCommands();
    const known = new Set([...OUTPUTS, ...INPUTS, ...AZD_OWN]);
    const changelog = read('CHANGELOG.md');
    const wrong: string[] = [];
    for (const l of lines.filter((x) => x.words[0] === 'azd')) {
      const name = azdCommandOf(l.words, commands);
      if (!name) {
        wrong.push(`${where(l)}: no azd command documented (vendor its usage snapshot if it is one)`);
        continue;
      }
      for (const w of l.words.slice(1)) {
        const flag = /^(--?[A-Za-z][\w-]*)(?:=.*)?$/.exec(w)?.[1];
        if (flag && !commands.get(name)!.has(flag)) wrong.push(`${where(l)}: azd ${name} has no ${flag}`);
      }
      const args = l.words.slice(1 + name.split(' ').length).filter((w) => !w.startsWith('-'));
      const variable = args[0];
      // A variable of an older version (an upgrade note reads it) is one the changelog records as removed.
      if (
        ['env set', 'env get-value'].includes(name) &&
        variable &&
        !isFilledIn(variable) &&
        !known.has(variable) &&
        !changelog.includes(`\`${variable}\``)
      )
        wrong.push(`${where(l)}: ${variable} is no input or output of the deployment, nor azd's own`);
      if (name === 'env set' && args.length !== 2 && !l.partial) wrong.push(`${where(l)}: azd env set <key> <value>`);
    }
    assert.deepEqual(wrong, []);
  });

  it("names on their own in the text only the CLI's flags and azd's", () => {
    const flags = new Set([
      ...cliFlags(),
      ...[...azdCommands().values()].flatMap((f) => [...f]),
      ...Object.values(OTHER_FLAGS).flat(),
    ]);
    const wrong: string[] = [];
    for (const page of DOCS) {
      withoutFences(read(page)).forEach((text, i) => {
        for (const span of spansOf(text)) {
          const flag = /^(--[a-z][\w-]*)(?:[ =]<[^>]+>)?$/.exec(span)?.[1];
          if (flag && !flags.has(flag)) wrong.push(`${page}:${i + 1}: \`${span}\``);
        }
      });
    }
    assert.deepEqual(wrong, [], 'flags the CLI and azd do not have');
  });
});

describe('docs: outputs, names and versions', () => {
  it("list the template's outputs, all of them and nothing else (docs/deploy.md, After the deployment)", () => {
    const section = read('docs/deploy.md').split('## After the deployment')[1]!.split('\n## ')[0]!;
    const listed = section
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .flatMap((l) => [...l.split(' | ')[0]!.matchAll(/`(\w+)`/g)].map((m) => m[1]!));
    assert.deepEqual([...listed].sort(), [...OUTPUTS].sort());
  });

  it('name only variables and settings that exist: in the code, or recorded by the changelog', () => {
    const code = ['src', 'dev', 'bench', 'scripts', 'infra', 'examples', '.github', 'test']
      .flatMap((dir) => files(dir))
      .concat(['azure.yaml', 'host.json', 'local.settings.sample.json', 'package.json'])
      .map(read)
      .join('\n');
    const changelog = read('CHANGELOG.md');
    const wrong: string[] = [];
    for (const page of PAGES) {
      withoutFences(read(page)).forEach((text, i) => {
        for (const span of spansOf(text)) {
          for (const [name] of span.matchAll(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g)) {
            if (!code.includes(name) && !changelog.includes(`\`${name}\``)) wrong.push(`${page}:${i + 1}: ${name}`);
          }
        }
      });
    }
    assert.deepEqual(wrong, [], 'names nothing in the repository reads, and the changelog does not record');
  });

  it("name only versions the changelog records; the newest is package.json's, and azure.yaml's", () => {
    const { version } = JSON.parse(read('package.json')) as { version: string };
    const changelog = read('CHANGELOG.md');
    const released = [...changelog.matchAll(/^## \[?(\d+\.\d+\.\d+)\]? - \d{4}-\d{2}-\d{2}$/gm)].map((m) => m[1]!);
    assert.equal(released[0], version, 'the changelog opens with the version package.json holds');
    assert.match(read('azure.yaml'), new RegExp(`template: aks-command-notifier@${version.replace(/\./g, '\\.')}\\n`));
    const older = (v: string) => released.indexOf(v) > 0;
    const wrong: string[] = [];
    // Our versions are 0.x.y; a page names one in full (Bicep's own, 0.49.2, is told apart by its name).
    const pages = [
      ...PAGES,
      ...['github-actions.yml', 'github-actions-fleet.yml', 'azure-pipelines.yml'].map((f) => `examples/${f}`),
    ];
    for (const page of pages) {
      read(page)
        .split('\n')
        .forEach((text, i) => {
          for (const m of text.matchAll(/(?<![\w.])(0\.[1-9]\d*\.\d+)(?![\w.]*\d)/g)) {
            const v = m[1]!;
            if (/\bBicep\b/i.test(text.slice(Math.max(0, m.index - 30), m.index))) continue;
            if (!released.includes(v)) wrong.push(`${page}:${i + 1}: ${v} is no version in CHANGELOG.md`);
            else if (/aks-command-notifier(?:-cli)?@$/.test(text.slice(0, m.index)) && v !== version)
              wrong.push(`${page}:${i + 1}: installs ${v}, not this version (${version})`);
            else if (/(?:[Ff]rom|[Ss]ince|[Bb]efore) $/.test(text.slice(0, m.index)) && !older(v))
              wrong.push(`${page}:${i + 1}: "${text.trim()}": ${v} is not older than ${version}`);
          }
          for (const m of text.matchAll(/(?:[Ff]rom|[Ss]ince|[Bb]efore|[Vv]ersion|[Ii]n) (0\.[1-9]\d*)(?![.\d])/g))
            wrong.push(`${page}:${i + 1}: "${m[0]}": name the version in full (x.y.z)`);
        });
    }
    assert.deepEqual(wrong, []);
  });
});

/** Every file under a folder of the repository that may name a setting: code, templates, config. */
function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? ['node_modules', 'obj', 'bin', 'schemas', 'docs'].includes(e.name)
        ? []
        : files(join(dir, e.name))
      : /\.(ts|bicep|json|ya?ml|sh|ps1)$/.test(e.name)
        ? [join(dir, e.name)]
        : [],
  );
}
