// npm run package: the deployable zip, holding exactly the files .funcignore lets in — the same rule azd
// applies — so the `az` path and `azd deploy` ship the same artefact. Fails if a file the app loads is
// missing from it (a deploy package that cannot be incomplete; test/integration/package.test.ts runs it).
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { zipSync } from 'fflate';
import ignore from 'ignore';

const ROOT = resolve(__dirname, '..');
export const PACKAGE_PATH = join(ROOT, 'dist', 'notifier.zip');

/** Files that .funcignore lets in (paths relative to the root, forward slashes). */
export function packagedFiles(root = ROOT): string[] {
  const rules = ignore().add(readFileSync(join(root, '.funcignore'), 'utf8'));
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(root, path).split('\\').join('/');
      if (name === '.git' || name === 'node_modules') continue;
      const isDir = statSync(path).isDirectory();
      if (isDir) {
        if (!rules.ignores(`${rel}/`)) walk(path);
      } else if (!rules.ignores(rel)) {
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

export function writePackage(root = ROOT, out = PACKAGE_PATH): { files: string[]; bytes: number } {
  const files = packagedFiles(root);
  const missing = requiredFiles(root).filter((f) => !files.includes(f));
  if (missing.length > 0) throw new Error(`.funcignore leaves out files the app loads: ${missing.join(', ')}`);
  const zip = zipSync(Object.fromEntries(files.map((f) => [f, readFileSync(join(root, f))])), {
    level: 9,
    mtime: new Date('2026-01-01T00:00:00Z'),
  });
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(out, zip);
  return { files, bytes: zip.length };
}

if (require.main === module) {
  const { files, bytes } = writePackage();
  console.log(
    `${relative(ROOT, PACKAGE_PATH)}: ${files.length} files, ${(bytes / 1024).toFixed(1)} kB\n${files.map((f) => `  ${f}`).join('\n')}`,
  );
}
