// The CLI as a caller runs it: dist/cli.js, the bundle `npm run pack:cli` ships, built once per test run.
// The runner (test/run.ts) builds it before any file starts and names the folder in
// AKS_NOTIFIER_TEST_BUILD_DIR; a file run on its own builds one of its own, once per process.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAll } from '../../scripts/build';

let built: Promise<string> | undefined;

/** The path of the built CLI (dist/cli.js), from this run's build. */
export function builtCli(): Promise<string> {
  built ??= (async () => {
    const shared = process.env.AKS_NOTIFIER_TEST_BUILD_DIR;
    if (shared && existsSync(join(shared, 'dist', 'cli.js'))) return join(shared, 'dist', 'cli.js');
    const own = mkdtempSync(join(tmpdir(), 'cli-build-'));
    process.once('exit', () => rmSync(own, { recursive: true, force: true }));
    await buildAll(own);
    return join(own, 'dist', 'cli.js');
  })();
  return built;
}
