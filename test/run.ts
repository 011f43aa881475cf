// The test runner: makes the stand-ins' TLS certificate before any test process starts (Node reads
// NODE_EXTRA_CA_CERTS only at start-up), then runs node's test runner over unit and integration tests.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createDevTls } from '../src/dev/tls';

async function main(): Promise<number> {
  const root = resolve(__dirname, '..');
  const tlsDir = join(root, '.tmp', 'test-tls');
  const tls = await createDevTls(tlsDir);
  const only = process.argv.slice(2);
  const files =
    only.length > 0
      ? only
      : ['unit', 'infra', 'integration', 'faults'].flatMap((d) =>
          readdirSync(join(root, 'test', d))
            .filter((f) => f.endsWith('.test.ts'))
            .sort()
            .map((f) => join('test', d, f)),
        );
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.certPath, AKS_NOTIFIER_TEST_TLS_DIR: tlsDir },
  });
  return result.status ?? 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
