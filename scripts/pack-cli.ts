// npm run pack:cli: the CLI as an installable package for the machines pipelines run on, without a
// checkout of this repository: its own bundle (dist/cli.js, every dependency inside), a bin, and no
// dependencies to install. CI writes dist/aks-command-notifier-cli-<version>.tgz; the examples install it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

/** Packs `<out>/dist/cli.js` into `<out>/dist/aks-command-notifier-cli-<version>.tgz` (out: the repository by default). */
export function packCli(out = ROOT): string {
  const app = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    license: string;
    description: string;
    // The CLI runs on a caller's Node: the root's `engines`, which scripts/build.ts builds the CLI for.
    engines: { node: string };
  };
  const dir = join(out, 'dist', 'cli-package');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'dist'), { recursive: true });
  copyFileSync(join(out, 'dist', 'cli.js'), join(dir, 'dist', 'cli.js'));
  writeFileSync(
    join(dir, 'bin', 'aks-command-notifier.js'),
    "#!/usr/bin/env node\nrequire('../dist/cli.js').main();\n",
    { mode: 0o755 },
  );
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify(
      {
        name: 'aks-command-notifier-cli',
        version: app.version,
        description: `The aks-command-notifier CLI (run, result, enqueue, doctor, status, redrive, redeliver): ${app.description}`,
        license: app.license,
        bin: { 'aks-command-notifier': 'bin/aks-command-notifier.js' },
        engines: app.engines,
        // npm accepts --provenance only for a package that names the repository it was built from: in the
        // release workflow, GitHub's own variables say which.
        ...(process.env.GITHUB_REPOSITORY
          ? {
              repository: {
                type: 'git',
                url: `git+${process.env.GITHUB_SERVER_URL ?? 'https://github.com'}/${process.env.GITHUB_REPOSITORY}.git`,
              },
            }
          : {}),
        files: ['bin/', 'dist/cli.js', 'README.md'],
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(
    join(dir, 'README.md'),
    '# aks-command-notifier CLI\n\nStart a command on a private AKS cluster with your own identity and have the notifier post its result:\n\n```bash\naks-command-notifier run --resource-group <group> --name <cluster> --command "kubectl get nodes" [--wait]\n```\n\nAfter a deploy, `aks-command-notifier doctor --notify` checks that everything is wired. See the project README for every command and setting.\n',
  );
  const tgz = execFileSync('npm', ['pack', '--pack-destination', join(out, 'dist'), '--silent'], {
    cwd: dir,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop()!;
  return join(out, 'dist', tgz);
}

if (require.main === module) console.log(packCli());
