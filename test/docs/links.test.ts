// The documentation's links: every relative link and every #anchor in README.md, infra/README.md and
// docs/**/*.md resolves — the file (or folder) exists, and the anchor names a heading of the target file
// under GitHub's slug rules: the heading's text as rendered (code spans keep their text, links their label,
// emphasis marks go), lowercased, every character but letters, digits, `-`, `_` and spaces dropped, each
// space a `-`; a repeated heading gets -1, -2… in order. Code blocks and code spans are not searched for
// links or headings. External links (a scheme such as http:, https:, mailto:) are not checked: no network.
// Also: README.md stays within 12 KB, and every docs page can be reached from README.md (a link to a folder
// reaches the pages in it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { codeSpans, markdownFiles, PAGES, ROOT, withoutFences } from '../support/markdown';

const README_LIMIT_BYTES = 12_288;

// CHANGELOG.md too: its links are checked like a page's, though no page need lead to it.
const FILES = [...PAGES, 'CHANGELOG.md'];

/** GitHub's anchor for a heading's markdown text. */
function slug(heading: string): string {
  const text = codeSpans(heading, true)
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[*]/g, '')
    .trim();
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of withoutFences(readFileSync(join(ROOT, file), 'utf8'))) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

function links(file: string): Link[] {
  const found: Link[] = [];
  withoutFences(readFileSync(join(ROOT, file), 'utf8')).forEach((raw, i) => {
    const line = codeSpans(raw, false);
    for (const m of line.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g))
      found.push({ file, line: i + 1, target: m[1]! });
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line);
    if (definition) found.push({ file, line: i + 1, target: definition[1]! });
  });
  return found;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** Why a link does not resolve, or undefined when it does. */
function problem(link: Link): string | undefined {
  const hash = link.target.indexOf('#');
  const path = decodeURIComponent(hash < 0 ? link.target : link.target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(link.target.slice(hash + 1));
  if (path.startsWith('/')) return 'an absolute path: write it relative to the file';
  const target = path === '' ? link.file : relative(ROOT, resolve(ROOT, dirname(link.file), path));
  if (target.startsWith('..')) return 'leads outside the repository';
  if (!existsSync(join(ROOT, target))) return `${target} does not exist`;
  if (anchor === undefined) return undefined;
  if (statSync(join(ROOT, target)).isDirectory() || !target.endsWith('.md'))
    return `#${anchor} in ${target}, which is not a markdown file`;
  if (!anchors(target).has(anchor))
    return `${target} has no heading #${anchor} (it has: ${[...anchors(target)].join(', ')})`;
  return undefined;
}

describe('documentation', () => {
  it('slugs headings as GitHub does', () => {
    assert.equal(
      slug('Delivery: retries, outages and once per target'),
      'delivery-retries-outages-and-once-per-target',
    );
    assert.equal(slug('`--file`: attach files'), '--file-attach-files');
    assert.equal(slug("The function's bookkeeping: `_notifier`"), 'the-functions-bookkeeping-_notifier');
    assert.equal(slug('Slack app (`slack-app`)'), 'slack-app-slack-app');
    assert.equal(slug('Read by the CLI, the host and the tests'), 'read-by-the-cli-the-host-and-the-tests');
    assert.equal(slug('See [the page](x.md) **now**'), 'see-the-page-now');
  });

  it('numbers repeated headings -1, -2…', () => {
    const seen = new Map<string, number>();
    const numbered = ['Answers', 'Answers', 'Answers'].map((h) => {
      const n = seen.get(slug(h)) ?? 0;
      seen.set(slug(h), n + 1);
      return n === 0 ? slug(h) : `${slug(h)}-${n}`;
    });
    assert.deepEqual(numbered, ['answers', 'answers-1', 'answers-2']);
  });

  it('finds links in the text, not in code', () => {
    const all = FILES.flatMap(links);
    assert.ok(
      all.some((l) => l.file === 'README.md' && l.target === 'docs/settings.md'),
      'README links to docs/settings.md',
    );
    assert.ok(!all.some((l) => l.target.includes('<')), 'nothing inside code is taken for a link');
  });

  it('resolve: every relative link names a file that exists, every anchor a heading of its file', () => {
    const broken = FILES.flatMap(links)
      .filter((l) => !isExternal(l.target))
      .map((l) => ({ l, why: problem(l) }))
      .filter((b) => b.why !== undefined)
      .map(({ l, why }) => `${l.file}:${l.line}: (${l.target}) ${why}`);
    assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`);
  });

  it(`keep README.md within ${README_LIMIT_BYTES.toLocaleString('en')} bytes`, () => {
    const size = statSync(join(ROOT, 'README.md')).size;
    assert.ok(size <= README_LIMIT_BYTES, `README.md is ${size} bytes: move detail into docs/`);
  });

  it('reach every docs page from README.md', () => {
    const reached = new Set<string>(['README.md']);
    const queue = ['README.md'];
    while (queue.length > 0) {
      const file = queue.shift()!;
      for (const l of links(file)) {
        if (isExternal(l.target) || problem(l) !== undefined) continue;
        const path = decodeURIComponent(l.target.split('#')[0]!);
        const target = path === '' ? file : relative(ROOT, resolve(ROOT, dirname(file), path));
        // A link to a folder reaches every page in it (GitHub lists them): docs/channels/ needs no index edit.
        const pages =
          existsSync(join(ROOT, target)) && statSync(join(ROOT, target)).isDirectory()
            ? markdownFiles(target)
            : [target];
        for (const page of pages) {
          if (page.endsWith('.md') && !reached.has(page)) {
            reached.add(page);
            queue.push(page);
          }
        }
      }
    }
    const orphans = markdownFiles('docs').filter((f) => !reached.has(f));
    assert.deepEqual(orphans, [], `docs pages no link leads to from README.md: ${orphans.join(', ')}`);
  });
});
