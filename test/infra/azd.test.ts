// azure.yaml as azd reads it: valid against azd's published schema (vendored, with its commit, in
// test/support/schemas/azd/), deploying the package `npm run package` makes as it is, with no remote build,
// from a hook that runs on Linux, macOS and Windows alike.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import Ajv2019 from 'ajv/dist/2019';
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json';
import { parse } from 'yaml';
import { PACKAGE_DIR, PACKAGE_RULES } from '../../scripts/package';

const ROOT = resolve(__dirname, '../..');
const SCHEMAS = join(ROOT, 'test', 'support', 'schemas', 'azd');
const AZD = 'https://raw.githubusercontent.com/Azure/azure-dev/main/';
const MAIN = 'schemas/v1.0/azure.yaml.json';

/** Every vendored file, by its path in Azure/azure-dev. */
function vendored(dir = SCHEMAS, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? vendored(dir, `${prefix}${e.name}/`) : e.name.endsWith('.json') ? [`${prefix}${e.name}`] : [],
  );
}

/**
 * azd's schema for azure.yaml, with every schema it references (by URL, and those by relative path) registered
 * under the URL it is published at, so that the references resolve with no network.
 */
function azdValidator() {
  const ajv = new Ajv2019({ allErrors: true, strict: false, validateFormats: false });
  ajv.addMetaSchema(draft07);
  for (const path of vendored()) {
    const schema = JSON.parse(readFileSync(join(SCHEMAS, path), 'utf8')) as { $id?: string };
    if (schema.$id) assert.equal(schema.$id, `${AZD}${path}`, `${path} is published where it says`);
    if (path !== MAIN) ajv.addSchema({ ...schema, $id: `${AZD}${path}` });
  }
  return ajv.compile(JSON.parse(readFileSync(join(SCHEMAS, MAIN), 'utf8')) as object);
}

interface AzureYaml {
  metadata: { template: string };
  requiredVersions?: { azd?: string };
  services: Record<
    string,
    {
      project: string;
      language: string;
      host: string;
      dist?: string;
      remoteBuild?: boolean;
      hooks?: Record<string, { posix?: { shell: string; run: string }; windows?: { shell: string; run: string } }>;
    }
  >;
}

describe('azure.yaml (azd)', () => {
  const text = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');
  const project = parse(text) as AzureYaml;
  const service = project.services.notifier!;

  it("is valid against azd's published schema", () => {
    const validate = azdValidator();
    assert.ok(validate(project), JSON.stringify(validate.errors, null, 2));
    // The schema bites on what this file sets: a hook shell azd has no runner for, a remoteBuild that is no
    // boolean.
    const bash = structuredClone(project);
    bash.services.notifier!.hooks!.prepackage!.posix!.shell = 'bash';
    assert.ok(!validate(bash), 'a hook shell other than sh or pwsh is refused');
    const word = structuredClone(project) as unknown as { services: { notifier: { remoteBuild: unknown } } };
    word.services.notifier.remoteBuild = 'false';
    assert.ok(!validate(word), 'remoteBuild must be a boolean');
  });

  it('deploys the package npm run package makes, as it is: no remote build', () => {
    assert.equal(service.host, 'function');
    assert.equal(service.language, 'ts');
    assert.equal(service.remoteBuild, false, 'pinned: azd would otherwise build a TypeScript package remotely');
    assert.equal(resolve(ROOT, service.project, service.dist!), PACKAGE_DIR, 'azd zips the unpacked package');
    // azd refuses `remoteBuild: false` when the project's .funcignore leaves out node_modules
    // (Azure/azure-dev cli/azd/pkg/project/service_target_functionapp.go, resolveFunctionAppRemoteBuild), and
    // zips the dist folder through a .funcignore of its own if it had one: the package rule lives in
    // scripts/package.ts instead.
    assert.throws(() => readFileSync(join(ROOT, service.project, '.funcignore')), /ENOENT/);
    assert.deepEqual(PACKAGE_RULES.slice(0, 2), ['*', '!host.json']);
  });

  it('names this version, and the oldest azd it works with, as docs/quickstart.md does', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(project.metadata.template, `aks-command-notifier@${version}`);
    const azd = /^>= (\d+\.\d+\.\d+)$/.exec(project.requiredVersions?.azd ?? '')?.[1];
    assert.ok(azd, 'requiredVersions.azd: a lowest version, so that an older azd refuses the project');
    assert.ok(
      readFileSync(join(ROOT, 'docs', 'quickstart.md'), 'utf8').includes(`azd ${azd} or later`),
      `docs/quickstart.md names azd ${azd} or later`,
    );
  });

  it('builds the package in a hook for sh and for pwsh, the same command', () => {
    const hook = service.hooks?.prepackage;
    assert.deepEqual(hook?.posix, { shell: 'sh', run: 'npm run package' });
    assert.deepEqual(hook?.windows, { shell: 'pwsh', run: 'npm run package' });
    const scripts = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    assert.match(scripts.package!, /scripts\/package\.ts/);
  });
});
