// The layering of src/ (.dependency-cruiser.cjs), checked by dependency-cruiser itself: src/ breaks no rule,
// and every rule bites — a small tree that breaks each of them once is run through the same configuration,
// and each rule must name its break. (npm test also runs `npm run lint:deps` and knip before the suites.)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = resolve(__dirname, '../..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** dependency-cruiser's violations for `src` under `cwd`, with the project's rules. */
function violations(cwd: string): Violation[] {
  let out: string;
  try {
    out = execFileSync(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json'], {
      cwd,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    // It exits non-zero when it finds errors; the report is on stdout all the same.
    out = (err as { stdout?: string }).stdout ?? '';
  }
  return (JSON.parse(out) as { summary: { violations: Violation[] } }).summary.violations;
}

/** Each rule of the configuration, by name. */
function ruleNames(): string[] {
  const config = require(CONFIG) as { forbidden: { name: string }[] };
  return config.forbidden.map((r) => r.name).sort();
}

/** One break of every rule (a type-only import closes the cycle: type-only imports count). */
const BREAKS: Record<string, string> = {
  'src/pipeline/a.ts': "import type { B } from './b';\nexport type A = B | 1;\n",
  'src/pipeline/b.ts':
    "import type { A } from './a';\nimport { c } from './c';\nexport type B = 2;\nexport const b: A | unknown = c;\n",
  'src/pipeline/c.ts': [
    "import { inner } from '../fleet/inner';",
    "import { z } from '../delivery/z';",
    "import { main } from '../cli/main';",
    "import { standIn } from '../../dev/standIn';",
    "import { nothing } from './missing';",
    'export const c = [inner, z, main, standIn, nothing];',
  ].join('\n'),
  'src/core/x.ts': "import { ledger } from '../store/ledger';\nexport const x = ledger;\n",
  'src/notify/y.ts': "import { ledger } from '../store/ledger';\nexport const y = ledger;\n",
  'src/notify/providers/alpha/index.ts': "import { beta } from '../beta';\nexport const alpha = beta;\n",
  'src/notify/providers/beta.ts':
    "import type { Report } from '../../core/report';\nexport const beta: Report[] = [];\n",
  'src/core/report.ts': 'export type Report = { kind: string };\n',
  'src/notify/live/engine.ts': "import { beta } from '../providers/beta';\nexport const engine = beta;\n",
  'src/delivery/z.ts': "import { b } from '../pipeline/b';\nexport const z = b;\n",
  'src/delivery/index.ts': "export { z } from './z';\n",
  'src/fleet/inner.ts': 'export const inner = 1;\n',
  'src/fleet/index.ts': "export { inner } from './inner';\n",
  'src/store/ledger.ts': "import { inner } from '../fleet';\nexport const ledger = inner;\n",
  'src/cli/main.ts': 'export const main = 1;\n',
  'dev/standIn.ts': 'export const standIn = 1;\n',
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'preserve', moduleResolution: 'bundler' } }),
};

describe('layering of src/ (dependency-cruiser)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'layering-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('src/ breaks no rule, and has no import cycle', () => {
    const found = violations(ROOT).map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
    assert.deepEqual(found, []);
  });

  it('every rule names its break in a tree that breaks each once', () => {
    for (const [file, text] of Object.entries(BREAKS)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    const found = violations(dir);
    const broken = [...new Set(found.map((v) => v.rule.name))].sort();
    assert.deepEqual(broken, ruleNames(), JSON.stringify(found, null, 1));
    // And each where it was broken.
    const at = (rule: string) => found.filter((v) => v.rule.name === rule).map((v) => `${v.from} → ${v.to}`);
    assert.ok(at('no-circular').includes('src/pipeline/a.ts → src/pipeline/b.ts'), 'a cycle of type-only imports');
    assert.deepEqual(at('core-imports-only-core'), ['src/core/x.ts → src/store/ledger.ts']);
    assert.deepEqual(at('channels-apart'), ['src/notify/providers/alpha/index.ts → src/notify/providers/beta.ts']);
    assert.deepEqual(at('channels-know-no-report'), ['src/notify/providers/beta.ts → src/core/report.ts']);
    assert.deepEqual(at('live-engine-knows-no-channel'), ['src/notify/live/engine.ts → src/notify/providers/beta.ts']);
    assert.deepEqual(at('one-entry-fleet'), ['src/pipeline/c.ts → src/fleet/inner.ts']);
    assert.deepEqual(at('one-entry-delivery'), ['src/pipeline/c.ts → src/delivery/z.ts']);
    assert.deepEqual(at('store-below-the-journey'), ['src/store/ledger.ts → src/fleet/index.ts']);
  });
});
