// npm run package: the deployable, exactly host.json, package.json and the esbuild bundles under
// dist/function/ (index.js registers the functions; the others load on first use). Nothing else goes in,
// node_modules included: the bundles already hold every dependency. It writes the same files twice: as
// dist/notifier.zip for the `az` path, and unpacked as dist/package/ for azd (azure.yaml's `dist`), which
// zips that folder as it is and deploys it with no remote build. Fails if a file the app loads is missing
// (a deploy package that cannot be incomplete; test/integration/package.test.ts runs it).
//
// The rule lives here, not in a .funcignore at the root: azd refuses `remoteBuild: false` when the
// project's .funcignore leaves out node_modules (Azure/azure-dev, resolveFunctionAppRemoteBuild), and
// without the pin it builds a TypeScript app remotely when the package holds no node_modules.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { zipSync } from 'fflate';
import ignore from 'ignore';

const ROOT = resolve(__dirname, '..');
export const PACKAGE_PATH = join(ROOT, 'dist', 'notifier.zip');
/** The unpacked package azd deploys (azure.yaml: dist). */
export const PACKAGE_DIR = join(ROOT, 'dist', 'package');
/** What goes in, as gitignore-style rules over the project's files: everything is left out but these. */
export const PACKAGE_RULES = ['*', '!host.json', '!package.json', '!dist/', '!dist/function/', '!dist/function/*.js'];

/** Files the rules let in (paths relative to the root, forward slashes). */
export function packagedFiles(root = ROOT, rules = PACKAGE_RULES): string[] {
  const filter = ignore().add(rules);
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(root, path).split('\\').join('/');
      if (name === '.git' || name === 'node_modules') continue;
      const isDir = statSync(path).isDirectory();
      if (isDir) {
        if (!filter.ignores(`${rel}/`)) walk(path);
      } else if (!filter.ignores(rel)) {
        out.push(rel);
      }
    }
  };
  walk(root);
  return out.sort();
}

/** Every file the function app loads at run time: the entry, and every bundle it loads lazily. */
export function requiredFiles(root = ROOT): string[] {
  const main = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string }).main;
  const bundles = readdirSync(join(root, 'dist', 'function'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => `dist/function/${f}`);
  return ['host.json', 'package.json', main, ...bundles];
}

export function writePackage(
  root = ROOT,
  out = PACKAGE_PATH,
  dir = join(root, 'dist', 'package'),
  rules = PACKAGE_RULES,
): { files: string[]; bytes: number } {
  const files = packagedFiles(root, rules);
  const missing = requiredFiles(root).filter((f) => !files.includes(f));
  if (missing.length > 0) throw new Error(`the package rules leave out files the app loads: ${missing.join(', ')}`);
  const zip = zipSync(Object.fromEntries(files.map((f) => [f, readFileSync(join(root, f))])), {
    level: 9,
    mtime: new Date('2026-01-01T00:00:00Z'),
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, zip);
  // The same files unpacked, for azd; a stale file from an earlier package must not ride along.
  rmSync(dir, { recursive: true, force: true });
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(root, f), join(dir, f));
  }
  return { files, bytes: zip.length };
}

if (require.main === module) {
  const { files, bytes } = writePackage();
  console.log(
    `${relative(ROOT, PACKAGE_PATH)}: ${files.length} files, ${(bytes / 1024).toFixed(1)} kB (unpacked in ${relative(ROOT, PACKAGE_DIR)}/)\n${files.map((f) => `  ${f}`).join('\n')}`,
  );
}
