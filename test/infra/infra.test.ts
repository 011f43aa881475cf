// infra/ built and linted by the real Bicep CLI, then the compiled ARM JSON checked for what a security
// review asks: no keys, shared key off, least privilege, secrets in Key Vault, the lockfile's Node, settings that
// match what the code reads. What the template makes of given parameters (which secrets, which app
// settings) is read from `bicep snapshot`, which evaluates it as ARM would before a deployment.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
// Every setting the code reads and every default it applies, channels' included: the lists the provider
// registry builds, so that a new channel's settings are checked here without an edit.
import { secretSettingNames, settingDefaults, settingNames } from '../../src/settings/catalog';
import { DEFAULTS } from '../../src/settings/defaults';
import { METRICS } from '../../src/telemetry/telemetry';
import { loadStorageSettings } from '../../src/config';
import { parseQueueUrl } from '../../src/settings/storageConnection';
import { APP_NODE_MAJOR } from '../../scripts/build';
import { FROM_AZD } from '../../src/cli/deployment';
import { findBicep, runBicep, type BicepCli } from '../support/bicep';

type Json = Record<string, unknown>;
interface Resource {
  type: string;
  name: string;
  properties?: Json;
  /** The template the resource was declared in (module), as text. */
  templateText: string;
  [key: string]: unknown;
}

function collect(template: Json, out: Resource[] = []): Resource[] {
  const text = JSON.stringify(template);
  const resources = Array.isArray(template.resources)
    ? (template.resources as Json[])
    : Object.values((template.resources as Record<string, Json>) ?? {});
  for (const r of resources) {
    out.push({ ...(r as Json), templateText: text } as Resource);
    const nested = (r.properties as Json | undefined)?.template as Json | undefined;
    if (r.type === 'Microsoft.Resources/deployments' && nested) collect(nested, out);
  }
  return out;
}

/** Settings the template sets from what it creates (identity, storage, the cloud): no deployment gives them. */
const SET_BY_TEMPLATE = new Set(['AzureWebJobsStorage', 'AZURE_CLIENT_ID', 'ARM_ENDPOINT', 'MAX_INSTANCE_COUNT']);

interface Predicted {
  type: string;
  name: string;
  properties?: Json;
  [key: string]: unknown;
}
interface Snapshot {
  predictedResources: Predicted[];
  outputs: Json;
}

/** A value as Bicep source, for a .bicepparam file. */
function bicepLiteral(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\$\{/g, '\\${')}'`;
  if (Array.isArray(v)) return `[\n${v.map((x) => `  ${bicepLiteral(x)}`).join('\n')}\n]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).map(
      ([k, x]) => `  ${/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : bicepLiteral(k)}: ${bicepLiteral(x)}`,
    );
    return `{\n${entries.join('\n')}\n}`;
  }
  return String(v);
}

/**
 * The parameters azd passes for an environment, as azd makes them (Azure/azure-dev,
 * cli/azd/pkg/infra/provisioning/bicep/bicep_provider.go: loadParameters, then armParameterFileValue):
 * `${VAR}` and `${VAR=default}` substituted in each value of infra/main.parameters.json;
 *  - an array or object parameter given as a string: left out if it comes out empty from an unset variable,
 *    else parsed as JSON, and azd stops on what does not parse (a variable set to '');
 *  - any other: left out if it comes out as '' from an unset variable; a bool or int given as a string is
 *    converted as Go's strconv.ParseBool and ParseInt do, and left out (the template's default) if it does not
 *    convert ('' included); an empty string is left out unless the parameter's default is another string;
 *  - an object value (secretSettings) keeps every key, empty or not.
 */
function azdParameters(env: Record<string, string>, template: string): Record<string, unknown> {
  const types = (JSON.parse(template) as { parameters: Record<string, { type: string; defaultValue?: unknown }> })
    .parameters;
  const file = JSON.parse(readFileSync('infra/main.parameters.json', 'utf8')) as {
    parameters: Record<string, { value: unknown }>;
  };
  const TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
  const FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];
  const out: Record<string, unknown> = {};
  for (const [name, { value }] of Object.entries(file.parameters)) {
    let unset = false;
    const substitute = (text: string) =>
      text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:=([^}]*))?\}/g, (_, v: string, fallback?: string) => {
        if (env[v] === undefined) unset = true;
        return env[v] ?? fallback ?? '';
      });
    const type = types[name]!.type.toLowerCase().replace(/^secure/, '');
    if (typeof value !== 'string') {
      out[name] = JSON.parse(substitute(JSON.stringify(value)));
      continue;
    }
    const text = substitute(value);
    if (text === '' && unset) continue;
    if (type === 'array' || type === 'object') {
      try {
        out[name] = JSON.parse(text);
      } catch {
        throw new Error(`substituting parameter '${name}' (${type}): value '${text}' is not valid JSON`);
      }
    } else if (type === 'bool') {
      if (TRUE.includes(text)) out[name] = true;
      else if (FALSE.includes(text)) out[name] = false;
    } else if (type === 'int') {
      if (/^[+-]?\d+$/.test(text)) out[name] = Number(text);
    } else if (text !== '' || (typeof types[name]!.defaultValue === 'string' && types[name]!.defaultValue !== '')) {
      out[name] = text;
    }
  }
  return out;
}

const SUBSCRIPTION = '11111111-1111-1111-1111-111111111111';

const ROLE = {
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a',
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
};

// Secret values no template text holds, so that finding one in a snapshot means the template carried it there.
const SECRET_WEBHOOK = 'https://hooks.slack.com/services/T0INFRA/B0TEST/infra-test-webhook-secret';
const SECRET_TOKEN = 'xoxb-infra-test-token-secret';

describe('infra (Bicep)', () => {
  let cli: BicepCli | undefined;
  let templateText = '';
  let resources: Resource[] = [];
  const of = (type: string) => resources.filter((r) => r.type.toLowerCase() === type.toLowerCase());

  // bicep snapshot leaves a secure parameter's value unknown, so it could not expand the loop over
  // secretSettings. It is given the compiled template with every secure type made plain; nothing else
  // differs, and that the real parameters are secure is checked on the compiled template itself. With the
  // values visible, the snapshot shows where each one goes.
  const snapshot = (parameters: Record<string, unknown>, subscriptionId = SUBSCRIPTION) => {
    const relaxed = templateText.replace(
      /"type": "secure(string|object)"/gi,
      (_, t: string) => `"type": "${t.toLowerCase()}"`,
    );
    assert.notEqual(relaxed, templateText, 'the template has secure parameters');
    mkdirSync(resolve('.tmp'), { recursive: true });
    const dir = mkdtempSync(resolve('.tmp', 'infra-snapshot-'));
    try {
      writeFileSync(join(dir, 'main.json'), relaxed);
      const lines = [
        "using 'main.json'",
        ...Object.entries(parameters).map(([k, v]) => `param ${k} = ${bicepLiteral(v)}`),
      ];
      writeFileSync(join(dir, 'main.bicepparam'), `${lines.join('\n')}\n`);
      const run = runBicep(cli!, [
        'snapshot',
        join(dir, 'main.bicepparam'),
        '--mode',
        'overwrite',
        '--subscription-id',
        subscriptionId,
        '--tenant-id',
        '22222222-2222-2222-2222-222222222222',
        '--location',
        'westeurope',
      ]);
      const result =
        run.status === 0 ? (JSON.parse(readFileSync(join(dir, 'main.snapshot.json'), 'utf8')) as Snapshot) : undefined;
      return { ...run, result };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const expand = (parameters: Record<string, unknown>, subscriptionId = SUBSCRIPTION): Snapshot => {
    const run = snapshot(parameters, subscriptionId);
    assert.equal(run.status, 0, run.stderr);
    return run.result!;
  };
  const appSettingsOf = (s: Snapshot) => {
    const sites = s.predictedResources.filter((r) => r.type === 'Microsoft.Web/sites');
    assert.equal(sites.length, 1);
    const list = (sites[0]!.properties!.siteConfig as { appSettings: unknown }).appSettings;
    assert.ok(Array.isArray(list), `app settings a preview can list, not ${JSON.stringify(list)}`);
    return new Map((list as { name: string; value: string }[]).map((x) => [x.name, x.value]));
  };
  const secretsOf = (s: Snapshot) => s.predictedResources.filter((r) => r.type === 'Microsoft.KeyVault/vaults/secrets');
  const vaultNameOf = (s: Snapshot) => {
    const vaults = s.predictedResources.filter((r) => r.type === 'Microsoft.KeyVault/vaults');
    assert.equal(vaults.length, 1, 'one vault');
    return vaults[0]!.name;
  };
  const azdEnv = { AZURE_ENV_NAME: 'infratest', AZURE_LOCATION: 'westeurope' };
  // What azd passes with no secret variable set (each maps to ''), and with the webhook set and a named
  // Slack app target added (its token beside the mapped variables, its plain settings in extraAppSettings):
  // two secrets given, one empty.
  let bare: Snapshot;
  let given: Snapshot;

  before(() => {
    const found = findBicep();
    if ('missing' in found) {
      // CI must not pass without the real compiler; a developer without it is told plainly.
      const message = `Bicep CLI not found: ${found.missing}`;
      if (process.env.CI) throw new Error(message);
      console.warn(`\n*** ${message}. The infra tests are skipped on this machine. ***\n`);
      return;
    }
    cli = found;
    const build = runBicep(cli, ['build', 'infra/main.bicep', '--stdout']);
    assert.equal(build.status, 0, build.stderr);
    templateText = build.stdout;
    resources = collect(JSON.parse(templateText) as Json);
    bare = expand(azdParameters(azdEnv, templateText));
    // As a user sets them: the webhook in its own variable, the named target's token in NOTIFIER_SECRET_SETTINGS and
    // its plain settings in NOTIFIER_APP_SETTINGS, with no edit of main.parameters.json.
    given = expand(
      azdParameters(
        {
          ...azdEnv,
          SLACK_WEBHOOK_URL: SECRET_WEBHOOK,
          NOTIFIER_SECRET_SETTINGS: JSON.stringify({ NOTIFY_TARGET_OPS_TOKEN: SECRET_TOKEN }),
          NOTIFIER_APP_SETTINGS: JSON.stringify({
            NOTIFY_TARGETS: 'ops',
            NOTIFY_TARGET_OPS_KIND: 'slack-app',
            NOTIFY_TARGET_OPS_CHANNEL: 'C0INFRA',
          }),
        },
        templateText,
      ),
    );
  });

  const test = (name: string, fn: () => void) =>
    it(name, (t) => {
      if (!cli) return t.skip('no Bicep CLI');
      fn();
    });

  test('builds and lints with no error and no warning', () => {
    const lint = runBicep(cli!, ['lint', 'infra/main.bicep']);
    assert.equal(lint.status, 0, lint.stderr);
    assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'lint output must be empty');
    const build = runBicep(cli!, ['build', 'infra/main.bicep', '--stdout']);
    assert.doesNotMatch(build.stderr, /Warning|Error/);
  });

  test('uses no account keys anywhere', () => {
    assert.doesNotMatch(templateText, /listKeys|AccountKey=|listConnectionStrings|SharedAccessSignature/i);
    const [account] = of('Microsoft.Storage/storageAccounts');
    assert.ok(account);
    assert.equal(account.properties!.allowSharedKeyAccess, false);
    assert.equal(account.properties!.minimumTlsVersion, 'TLS1_2');
    assert.equal(account.properties!.allowBlobPublicAccess, false);
    assert.equal(account.properties!.supportsHttpsTrafficOnly, true);
  });

  test('creates the command queue, its poison queue, the ledger table and the deployment container', () => {
    const queues = of('Microsoft.Storage/storageAccounts/queueServices/queues').map((q) => q.name);
    assert.ok(
      queues.some((n) => n.includes('COMMAND_QUEUE_NAME') || n.includes('queueName')),
      JSON.stringify(queues),
    );
    assert.ok(
      queues.some((n) => n.includes('-poison')),
      'poison queue',
    );
    assert.equal(of('Microsoft.Storage/storageAccounts/tableServices/tables').length, 1);
    assert.equal(
      of('Microsoft.Storage/storageAccounts/blobServices/containers').length,
      4,
      "the deployment package, the stored results and the host's two containers",
    );
    const settings = JSON.parse(readFileSync('infra/app/settings.json', 'utf8')) as Record<string, string>;
    assert.equal(settings.COMMAND_QUEUE_NAME, settingDefaults().COMMAND_QUEUE_NAME);
    assert.equal(settings.DELIVERY_TABLE_NAME, settingDefaults().DELIVERY_TABLE_NAME);
  });

  test("runs on Flex Consumption, on the lockfile's Node, deploying from blob with the identity", () => {
    const [plan] = of('Microsoft.Web/serverfarms');
    assert.deepEqual((plan as unknown as { sku: Json }).sku, { name: 'FC1', tier: 'FlexConsumption' });
    const [site] = of('Microsoft.Web/sites');
    assert.ok(site);
    const config = site.properties!.functionAppConfig as {
      runtime: { name: string; version: string };
      deployment: { storage: { authentication: { type: string } } };
    };
    assert.equal(config.runtime.name, 'node');
    // The runtime the tests, the worker and the bundle ran on is the one Azure runs (scripts/build.ts reads it).
    assert.equal(config.runtime.version, String(APP_NODE_MAJOR));
    assert.ok(APP_NODE_MAJOR >= 24, 'Node 24 or newer: 20 is out of support, 24 is the LTS with the longest life');
    assert.equal(config.deployment.storage.authentication.type, 'UserAssignedIdentity');
    assert.match(String(site.properties!.keyVaultReferenceIdentity), /identityId/);
    assert.equal(site.properties!.httpsOnly, true);
    assert.match(JSON.stringify((site as unknown as { identity: Json }).identity), /UserAssigned/);
    const policies = of('Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    assert.equal(policies.length, 2);
    assert.ok(policies.every((p) => p.properties!.allow === false));
  });

  // A setting the code reads is one of three kinds, and the kind decides where it comes from:
  //  - it has a default in the code: infra/app/settings.json holds the same default, so the
  //    deployed app shows every tunable value and an operator changes it in place;
  //  - the template makes it from what it creates (SET_BY_TEMPLATE: identity, storage, the cloud);
  //  - otherwise it is per deployment (which targets exist, their URLs, tokens and scopes): the deployment
  //    passes it through extraAppSettings or secretSettings, and the template never names one, so a new
  //    channel needs no edit in infra/. A new setting with a default must therefore land in settings.json,
  //    or this test fails saying so.
  test("sets every setting the code reads that has a default or comes from the deployment's resources, and names no per-deployment one", () => {
    const [site] = of('Microsoft.Web/sites');
    const text = site!.templateText;
    const settings = JSON.parse(readFileSync('infra/app/settings.json', 'utf8')) as Record<string, string>;
    const defaults = settingDefaults();
    for (const [name, value] of Object.entries(settings)) {
      assert.ok(name in defaults, `${name} in infra/app/settings.json is no default of the code`);
      assert.equal(defaults[name], value, `${name}: infra ${value}, code ${defaults[name]}`);
    }
    const deployed = appSettingsOf(bare);
    // The safe share of the budgets assumes the most instances the plan runs (docs/performance.md, Scale out).
    const app = bare.predictedResources.find((r) => r.type === 'Microsoft.Web/sites');
    const scale = (app!.properties as { functionAppConfig: { scaleAndConcurrency: { maximumInstanceCount: number } } })
      .functionAppConfig.scaleAndConcurrency;
    assert.equal(deployed.get('MAX_INSTANCE_COUNT'), String(scale.maximumInstanceCount));
    assert.equal(scale.maximumInstanceCount, DEFAULTS.MAX_INSTANCE_COUNT, "infra's default is the code's");
    const perDeployment: string[] = [];
    for (const name of settingNames()) {
      if (name === 'AzureWebJobsStorage') {
        for (const part of ['__credential', '__clientId', '__blobServiceUri', '__queueServiceUri', '__tableServiceUri'])
          assert.ok(deployed.has(`AzureWebJobsStorage${part}`), `AzureWebJobsStorage${part}`);
      } else if (name in settings) {
        assert.equal(deployed.get(name), settings[name], `${name} as in infra/app/settings.json`);
      } else if (SET_BY_TEMPLATE.has(name)) {
        assert.ok(deployed.has(name), `infra does not set ${name}`);
      } else {
        assert.ok(!(name in defaults), `${name} has a default in the code: put it in infra/app/settings.json`);
        assert.ok(!deployed.has(name), `${name} is per deployment, yet infra sets it unasked`);
        assert.ok(
          !templateText.includes(`'${name}'`) && !templateText.includes(`"${name}"`),
          `infra names ${name}: a deployment passes it through extraAppSettings or secretSettings`,
        );
        perDeployment.push(name);
      }
    }
    for (const name of ['NOTIFY_TARGETS', 'NOTIFY_DEFAULT_TARGETS'])
      assert.ok(perDeployment.includes(name), `${name} is per deployment`);
    assert.doesNotMatch(templateText, /['"]NOTIFY_TARGET_/, "a named target is the deployment's, not infra's");
    assert.match(text, /APPLICATIONINSIGHTS_AUTHENTICATION_STRING.*Authorization=AAD/);
    assert.doesNotMatch(text, /FUNCTIONS_WORKER_RUNTIME/, 'Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME');
  });

  test('takes secrets as secure objects of app settings (by name, and NOTIFIER_SECRET_SETTINGS), with no parameter per channel', () => {
    const [site] = of('Microsoft.Web/sites');
    assert.match(
      site!.templateText,
      /union\(parameters\('settings'\), parameters\('keyVaultReferences'\)/,
      'the app settings take the references the vault module makes, over the plain ones',
    );
    const [vault] = of('Microsoft.KeyVault/vaults');
    assert.equal(vault!.properties!.enableRbacAuthorization, true);
    assert.match(vault!.templateText, /@Microsoft\.KeyVault\(VaultName=\{0\};SecretName=/);
    const vaultModule = JSON.parse(vault!.templateText) as { parameters: Record<string, { type: string }> };
    assert.equal(vaultModule.parameters.secretSettings!.type.toLowerCase(), 'secureobject');
    const main = JSON.parse(templateText) as {
      parameters: Record<string, { type: string; defaultValue?: unknown }>;
      outputs: Record<string, unknown>;
    };
    assert.equal(main.parameters.secretSettings!.type.toLowerCase(), 'secureobject');
    assert.equal(main.parameters.extraSecretSettings!.type.toLowerCase(), 'secureobject');
    assert.deepEqual(main.parameters.secretSettings!.defaultValue, {});
    assert.deepEqual(
      Object.keys(main.parameters).filter((p) => /slack|teams|webhookUrl|token|channel/i.test(p)),
      // teamsBot deploys a resource (the Azure Bot teams-app targets post through), not a channel's settings.
      ['alertWebhookUrl', 'teamsBot'],
      'no parameter per channel',
    );
    assert.doesNotMatch(JSON.stringify(main.outputs), /secretSettings/);
    // azd: every parameter the file maps exists, and each secret setting comes from the variable of its name,
    // empty when unset, so that an unset one makes no secret.
    const file = JSON.parse(readFileSync('infra/main.parameters.json', 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    for (const name of Object.keys(file.parameters)) assert.ok(name in main.parameters, `${name} is no parameter`);
    const mapped = Object.entries(file.parameters.secretSettings!.value as Record<string, string>);
    assert.ok(mapped.length > 0);
    for (const [name, value] of mapped) {
      assert.equal(value, `\${${name}=}`, name);
      assert.ok(
        secretSettingNames().includes(name) || /^NOTIFY_TARGET_[A-Z0-9_]+$/.test(name),
        `${name} is no secret setting the code reads`,
      );
    }
  });

  test('stores each non-empty secret setting as a Key Vault secret, and the app reads exactly those through references', () => {
    const vault = vaultNameOf(given);
    const secrets = Object.fromEntries(
      secretsOf(given).map((r) => [r.name, (r.properties as { value: string }).value]),
    );
    assert.deepEqual(secrets, {
      [`${vault}/notify-target-ops-token`]: SECRET_TOKEN,
      [`${vault}/slack-webhook-url`]: SECRET_WEBHOOK,
    });
    const deployed = appSettingsOf(given);
    const references = Object.fromEntries([...deployed].filter(([, v]) => /@Microsoft\.KeyVault/i.test(v)));
    assert.deepEqual(references, {
      NOTIFY_TARGET_OPS_TOKEN: `@Microsoft.KeyVault(VaultName=${vault};SecretName=notify-target-ops-token)`,
      SLACK_WEBHOOK_URL: `@Microsoft.KeyVault(VaultName=${vault};SecretName=slack-webhook-url)`,
    });
    assert.ok(!deployed.has('TEAMS_WEBHOOK_URL'), 'an empty secret setting makes no setting at all');
    assert.equal(deployed.get('NOTIFY_TARGETS'), 'ops', 'extraAppSettings as they are');
    assert.equal(deployed.get('NOTIFY_TARGET_OPS_KIND'), 'slack-app');
    assert.equal(deployed.get('NOTIFY_TARGET_OPS_CHANNEL'), 'C0INFRA');
  });

  test('puts no secret value anywhere but in its own Key Vault secret: not in app settings, not in outputs', () => {
    for (const secret of [SECRET_WEBHOOK, SECRET_TOKEN]) {
      const holders = given.predictedResources.filter((r) => JSON.stringify(r).includes(secret));
      assert.deepEqual(
        holders.map((r) => r.type),
        ['Microsoft.KeyVault/vaults/secrets'],
        'only its secret holds it',
      );
      assert.ok(![...appSettingsOf(given).values()].some((v) => v.includes(secret)), 'not in an app setting');
      assert.ok(!JSON.stringify(given.outputs).includes(secret), 'not in an output');
    }
  });

  test('with every secret setting empty (azd with none set) makes no secret and no reference; the vault and the role stay', () => {
    assert.deepEqual(secretsOf(bare), []);
    assert.ok(![...appSettingsOf(bare).values()].some((v) => /@Microsoft\.KeyVault/i.test(v)));
    vaultNameOf(bare);
    const roles = bare.predictedResources.filter(
      (r) =>
        r.type === 'Microsoft.Authorization/roleAssignments' &&
        String((r.properties as { roleDefinitionId?: string }).roleDefinitionId).endsWith(ROLE.keyVaultSecretsUser),
    );
    assert.equal(roles.length, 1, 'Key Vault Secrets User for the app');
  });

  test('fails the deployment, naming the setting and not its value, for a name that cannot be a secret name', () => {
    const base = azdParameters(azdEnv, templateText);
    for (const [secretSettings, message] of [
      [{ 'NOTIFY-TARGET-OPS-TOKEN': SECRET_TOKEN }, /"NOTIFY-TARGET-OPS-TOKEN" is not an app setting name/],
      [{ ['T'.repeat(128)]: SECRET_TOKEN }, /"T{128}" is not an app setting name/],
      [{ OPS_TOKEN: SECRET_TOKEN, ops_token: SECRET_WEBHOOK }, /two names differ only by case/],
    ] as const) {
      const run = snapshot({ ...base, secretSettings });
      assert.notEqual(run.status, 0, JSON.stringify(Object.keys(secretSettings)));
      assert.match(run.stderr, message);
      assert.ok(!run.stderr.includes(SECRET_TOKEN) && !run.stderr.includes(SECRET_WEBHOOK), 'no value in the error');
    }
    const longest = expand({ ...base, secretSettings: { ['T'.repeat(127)]: SECRET_TOKEN } });
    assert.deepEqual(
      secretsOf(longest).map((r) => r.name.split('/')[1]),
      ['t'.repeat(127)],
      '127 characters is a name',
    );
  });

  test('grants the data-plane roles the app uses, each on its one container, queue or table', () => {
    // Role ids live in each module's variables; the assignment sits in the same module.
    const assigned = of('Microsoft.Authorization/roleAssignments');
    for (const [role, id] of Object.entries(ROLE))
      assert.ok(
        assigned.some((a) => a.templateText.includes(id)),
        `${role} is assigned`,
      );
    assert.ok(!templateText.includes('b24988ac-6180-42a0-ab88-20f7382dd24c'), 'no Contributor');
    assert.ok(!templateText.includes('8e3af657-a8ff-443c-a75c-2fe8c4bcb635'), 'no Owner');
    const storageScopes = assigned
      .filter((a) => String(a.scope).includes('Microsoft.Storage'))
      .map((a) => String(a.scope));
    assert.equal(storageScopes.length, 4, 'containers, queues, the ledger table, producers');
    for (const scope of storageScopes) {
      assert.match(
        scope,
        /storageAccounts\/(blobServices\/containers|queueServices\/queues|tableServices\/tables)'/,
        `scoped below the account: ${scope}`,
      );
    }
    const storage = JSON.parse(assigned.find((a) => String(a.scope).includes('containers'))!.templateText) as {
      variables: Record<string, string>;
    };
    const containers = String(storage.variables.containerGrants);
    for (const c of ['azure-webjobs-hosts', 'azure-webjobs-secrets', 'deploymentContainerName', 'resultContainerName'])
      assert.ok(containers.includes(c), `a grant on ${c}`);
    assert.ok(
      String(storage.variables.queueGrants).includes("'-poison'") ||
        String(storage.variables.queueGrants).includes('-poison'),
      'the poison queue',
    );
    const main = JSON.parse(templateText) as { parameters: Record<string, unknown> };
    assert.ok('operatorPrincipalIds' in main.parameters, 'operators get their roles too');
  });

  test("creates the host's containers so that its role can be granted on them alone", () => {
    const names = of('Microsoft.Storage/storageAccounts/blobServices/containers')
      .map((c) => c.name)
      .join(' ');
    for (const c of ['azure-webjobs-hosts', 'azure-webjobs-secrets']) assert.ok(names.includes(c), c);
  });

  test('alerts on poison, backlog, undeliverable notifications, ARM 403s, sustained ARM 429s and failures, through one action group', () => {
    const rules = of('Microsoft.Insights/scheduledQueryRules');
    assert.equal(rules.length, 1, 'one rule resource, in a loop over the rules');
    const module = JSON.parse(rules[0]!.templateText) as { variables: { rules: { name: string; query: string }[] } };
    const byName = Object.fromEntries(module.variables.rules.map((r) => [r.name, r.query]));
    assert.deepEqual(Object.keys(byName).sort(), [
      'arm-forbidden',
      'arm-throttled',
      'backlog',
      'function-failures',
      'poison',
      'undeliverable',
    ]);
    // The queries name the metrics the app emits (src/telemetry/telemetry.ts), and the host's poison line.
    assert.match(byName.poison!, new RegExp(`${METRICS.poisoned}.*${METRICS.queueMessages}.*MaxDequeueCount`));
    assert.match(byName.backlog!, new RegExp(METRICS.queueOldestAge));
    assert.match(byName.undeliverable!, new RegExp(`${METRICS.deliveries}.*failed.*delivery-deadline`));
    assert.match(byName['arm-forbidden']!, new RegExp(`${METRICS.polls}.*401/403`));
    assert.match(byName['arm-throttled']!, new RegExp(`${METRICS.polls}.*"429".*bin\\(timestamp, 5m\\).*spans >= 3`));
    assert.match(byName['function-failures']!, /requests \| where success == false/);
    assert.equal(of('Microsoft.Insights/actionGroups').length, 1);
    const main = JSON.parse(templateText) as { parameters: Record<string, { type: string }> };
    assert.equal(main.parameters.alertWebhookUrl!.type, 'securestring');
    assert.equal(main.parameters.alertEmails!.type, 'array');
  });

  test('sends Key Vault audit events and the chosen Storage queue and table logs to Log Analytics', () => {
    const settings = of('Microsoft.Insights/diagnosticSettings');
    const vault = settings.find((d) => JSON.stringify(d.properties).includes('AuditEvent'));
    assert.ok(vault, 'Key Vault AuditEvent');
    const storage = settings.filter((d) => /queueServices|tableServices/.test(String(d.scope)));
    assert.equal(storage.length, 2, 'queue and table services');
    for (const d of storage) assert.match(JSON.stringify(d.properties), /parameters\('logCategories'\)/);
    const main = JSON.parse(templateText) as { parameters: Record<string, { defaultValue?: unknown }> };
    assert.deepEqual(main.parameters.storageLogCategories!.defaultValue, ['StorageWrite', 'StorageDelete']);
  });

  test('isolates the network on request: private endpoints, public access off, VNet integration; deployable without', () => {
    const main = JSON.parse(templateText) as {
      parameters: Record<string, { defaultValue?: unknown }>;
      resources: Record<string, { condition?: string; name?: string }> | { condition?: string; name?: string }[];
    };
    assert.equal(main.parameters.networkIsolation!.defaultValue, false, 'the default needs no VNet');
    const endpoints = of('Microsoft.Network/privateEndpoints');
    assert.equal(endpoints.length, 1, 'one resource, in a loop');
    const network = JSON.parse(endpoints[0]!.templateText) as { variables: { endpoints: { service: string }[] } };
    assert.deepEqual(
      network.variables.endpoints.map((e) => e.service),
      ['blob', 'queue', 'table', 'vault'],
    );
    assert.match(templateText, /"condition": "\[variables\('isolated'\)\]"/, 'the network module is conditional');
    const [account] = of('Microsoft.Storage/storageAccounts');
    assert.equal(
      account!.properties!.publicNetworkAccess,
      "[if(parameters('networkIsolation'), 'Disabled', 'Enabled')]",
    );
    const [vault] = of('Microsoft.KeyVault/vaults');
    assert.equal(vault!.properties!.publicNetworkAccess, "[if(parameters('networkIsolation'), 'Disabled', 'Enabled')]");
    const [site] = of('Microsoft.Web/sites');
    assert.equal(site!.properties!.publicNetworkAccess, "[if(parameters('networkIsolation'), 'Disabled', 'Enabled')]");
    assert.match(String(site!.properties!.virtualNetworkSubnetId), /subnetId/);
    assert.ok(
      of('Microsoft.Network/virtualNetworks')[0]!.templateText.includes('Microsoft.App/environments'),
      'the app subnet is delegated to Flex Consumption',
    );
    assert.doesNotMatch(endpoints[0]!.templateText, /core\.windows\.net/, 'DNS zones follow the cloud');
  });

  it('never samples warnings, errors or requests in host.json', () => {
    const host = JSON.parse(readFileSync('host.json', 'utf8')) as {
      logging: { applicationInsights: { samplingSettings: { excludedTypes: string } } };
    };
    const excluded = host.logging.applicationInsights.samplingSettings.excludedTypes.split(';');
    for (const t of ['Request', 'Exception', 'Trace']) assert.ok(excluded.includes(t), t);
  });

  test('gives clusters a custom role with no wildcard that only reads results (callers start commands themselves)', () => {
    const [role] = of('Microsoft.Authorization/roleDefinitions');
    assert.ok(role);
    assert.ok(!role.templateText.replace(/"\$schema"[^,]*,/, '').includes('*'), 'no wildcard actions');
    assert.deepEqual((role.properties!.permissions as { actions: string[] }[])[0]!.actions, [
      'Microsoft.ContainerService/managedClusters/commandResults/read',
    ]);
    assert.ok(!templateText.includes('runcommand/action'), 'the notifier never starts commands');
    assert.ok(!('allowRunCommand' in (JSON.parse(templateText) as { parameters: object }).parameters));
    const access = of('Microsoft.Authorization/roleAssignments').find(
      (r) =>
        r.templateText.includes('Microsoft.ContainerService/managedClusters') &&
        r.properties!.roleDefinitionId === "[variables('roleDefinitionId')]",
    );
    assert.ok(access, 'an assignment on each listed cluster');
  });

  test('keeps Application Insights on Entra auth only', () => {
    const [ai] = of('Microsoft.Insights/components');
    assert.equal(ai!.properties!.DisableLocalAuth, true);
  });

  test('holds to the arm-ttk rules it once failed (arm-ttk itself cannot run in CI; docs/deploy.md)', () => {
    const problems: string[] = [];
    // The one blank arm-ttk's "Template Should Not Contain Blanks" finds, and why it stays: an Azure Bot's
    // `endpoint` is a required property (Bicep's type for Microsoft.BotService/botServices warns BCP035
    // without it), and empty is how a bot says it has no messaging endpoint: this one only sends.
    const BLANK_BY_NEED = (o: Json, k: string) =>
      k === 'endpoint' && o.msaAppType === 'UserAssignedMSI' && JSON.stringify(o).includes('msaAppMSIResourceId');
    const skipEmpty = new Set([
      'resources',
      'outputs',
      'variables',
      'parameters',
      'dependsOn',
      'functions',
      'definitions',
      'metadata',
      'defaultValue',
    ]);
    const walk = (v: unknown, path: string, secure: Set<string>): void => {
      if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`, secure));
      if (!v || typeof v !== 'object') return;
      const o = v as Json;
      let own = secure;
      if ('$schema' in o && o.parameters && typeof o.parameters === 'object') {
        // A template's own parameters: min and max go together; remember which are secure.
        own = new Set();
        for (const [name, p] of Object.entries(o.parameters as Record<string, Json>)) {
          if ('minValue' in p !== 'maxValue' in p)
            problems.push(`${path}.parameters.${name}: minValue without maxValue (or the reverse)`);
          if (String(p.type).toLowerCase().startsWith('secure')) own.add(name);
        }
      }
      for (const [k, x] of Object.entries(o)) {
        const empty =
          x === '' || (Array.isArray(x) ? x.length === 0 : !!x && typeof x === 'object' && Object.keys(x).length === 0);
        if (empty && !skipEmpty.has(k) && !path.endsWith('.userAssignedIdentities') && !BLANK_BY_NEED(o, k))
          problems.push(`${path}.${k}: an empty property`);
        const text =
          typeof x === 'string'
            ? x
            : typeof (x as Json | undefined)?.value === 'string'
              ? ((x as Json).value as string)
              : undefined;
        // arm-ttk finds nested templates by matching braces across the text, strings included: one string
        // with an unmatched brace ('{') made it fail to read the template at all (6 rules failed).
        if (typeof x === 'string' && x.split('{').length !== x.split('}').length)
          problems.push(`${path}.${k}: unmatched braces in a string, which arm-ttk cannot read past`);
        if (/ur[il]$/i.test(k) && text !== undefined && /\b(format|concat)\(/.test(text) && !/^\[uri\(/.test(text))
          problems.push(`${path}.${k}: a URI built with format() or concat(), not uri()`);
        // A module parameter given an expression over a secure parameter: arm-ttk types it as secure.
        if (
          k === 'value' &&
          typeof x === 'string' &&
          /\.properties\.parameters\.[^.]+$/.test(path) &&
          !/^\[parameters\('[^']+'\)\]$/.test(x) &&
          [...own].some((n) => x.includes(`parameters('${n}')`))
        ) {
          problems.push(`${path}: an expression over a secure parameter (pass a variable)`);
        }
        walk(x, `${path}.${k}`, own);
      }
    };
    walk(JSON.parse(templateText), '$', new Set());
    assert.deepEqual(problems, []);
  });

  test('adds the Azure Bot for teams-app targets behind one parameter: single tenant, the app identity, Teams enabled, no endpoint', () => {
    const kind = (snap: Snapshot, type: string) => snap.predictedResources.filter((r) => r.type === type);
    assert.equal(kind(bare, 'Microsoft.BotService/botServices').length, 0, 'no bot unless asked for');
    const withBot = expand({ ...azdParameters(azdEnv, templateText), teamsBot: true });
    const [bot] = kind(withBot, 'Microsoft.BotService/botServices');
    assert.ok(bot, 'teamsBot: true adds an Azure Bot');
    const p = bot.properties as Record<string, unknown>;
    const identity = kind(withBot, 'Microsoft.ManagedIdentity/userAssignedIdentities')[0]!;
    assert.equal(p.msaAppType, 'UserAssignedMSI', 'no secret: the app identity');
    assert.equal(p.msaAppTenantId, '22222222-2222-2222-2222-222222222222', 'single tenant: the deployment tenant');
    assert.match(String(p.msaAppMSIResourceId), new RegExp(`${identity.name}$`));
    assert.equal(p.endpoint, '', 'notification only: no messaging endpoint');
    assert.equal(p.disableLocalAuth, true);
    const channels = kind(withBot, 'Microsoft.BotService/botServices/channels');
    assert.deepEqual(
      channels.map((c) => [
        c.name.split('/').pop(),
        (c.properties as { properties?: { isEnabled?: boolean } }).properties?.isEnabled,
      ]),
      [['MsTeamsChannel', true]],
    );
  });

  // What azd makes of the environment, and what each choice of clusters, roles and network deploys.
  const OTHER = '33333333-3333-3333-3333-333333333333';
  const clusterId = (sub: string, group: string, name: string) =>
    `/subscriptions/${sub}/resourceGroups/${group}/providers/Microsoft.ContainerService/managedClusters/${name}`;
  const DEPLOYER = 'dddddddd-0000-4000-8000-00000000000d';
  const assignments = (snap: Snapshot) =>
    snap.predictedResources
      .filter((r) => r.type === 'Microsoft.Authorization/roleAssignments')
      .map((r) => {
        const p = r.properties as { principalId: string; roleDefinitionId: string };
        const id = String(r.id ?? r.name);
        return { id, principalId: p.principalId, roleDefinitionId: p.roleDefinitionId };
      });
  /** The storage roles a principal holds, as "role on resource" (the resource's last two id segments). */
  const storageRolesOf = (snap: Snapshot, principal: string) =>
    assignments(snap)
      .filter((a) => a.principalId === principal)
      .map((a) => {
        const role = Object.entries(ROLE).find(([, g]) => a.roleDefinitionId.endsWith(g))?.[0] ?? a.roleDefinitionId;
        const scope = a.id.split('/providers/Microsoft.Authorization/')[0]!.split('/').slice(-2).join('/');
        return `${role} on ${scope}`;
      })
      .sort();
  const roleDefinitions = (snap: Snapshot) =>
    snap.predictedResources.filter((r) => r.type === 'Microsoft.Authorization/roleDefinitions');
  /** Assignments of a role definition GUID: the reader role, made here or given. */
  const readerGrants = (snap: Snapshot, guid: string) =>
    assignments(snap).filter((a) => a.roleDefinitionId.toLowerCase().endsWith(`/roledefinitions/${guid}`));
  const readerGuidOf = (snap: Snapshot) => {
    const [role] = roleDefinitions(snap);
    assert.ok(role, 'a reader role is made');
    return role.name.split('/').pop()!;
  };
  const withEnv = (env: Record<string, string>) => azdParameters({ ...azdEnv, ...env }, templateText);

  test("maps every parameter from one azd variable of its own, with the template's defaults when unset, and location as azd's location", () => {
    const main = JSON.parse(templateText) as {
      parameters: Record<string, { type: string; metadata?: { azd?: { type?: string } } }>;
    };
    const file = JSON.parse(readFileSync('infra/main.parameters.json', 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    assert.deepEqual(Object.keys(file.parameters).sort(), Object.keys(main.parameters).sort(), 'every parameter');
    assert.equal(main.parameters.location!.metadata?.azd?.type, 'location');
    const mapped = new Map<string, string>();
    for (const [name, { value }] of Object.entries(file.parameters)) {
      const found = [...JSON.stringify(value).matchAll(/\$\{([A-Za-z_]\w*)(=[^}]*)?\}/g)];
      assert.ok(found.length > 0, `${name} maps no variable`);
      for (const [, variable, fallback] of found) {
        assert.ok(!mapped.has(variable!), `${variable} maps ${mapped.get(variable!)} and ${name}`);
        mapped.set(variable!, name);
        // A default in the file would be a second one; an unset variable leaves the parameter out instead.
        if (name !== 'secretSettings') assert.equal(fallback, undefined, `${name}: its default is the template's`);
      }
    }
    assert.equal(mapped.get('AZURE_PRINCIPAL_ID'), 'deployerPrincipalId', "azd's own variable for the deployer");
    // The docs' table names each variable and its parameter.
    const docs = readFileSync('docs/deploy.md', 'utf8');
    const table = docs.slice(
      docs.indexOf('| Variable | Parameter |'),
      docs.indexOf('\n\n', docs.indexOf('| Variable |')),
    );
    for (const [variable, parameter] of mapped)
      assert.ok(table.includes(`\`${variable}\``) && table.includes(`\`${parameter}\``), `docs/deploy.md: ${variable}`);
    const set = withEnv({
      AKS_CLUSTERS: JSON.stringify([clusterId(OTHER, 'rg-aks', 'aks1')]),
      AKS_CLUSTER_SCOPES: `["${OTHER}"]`,
      MAXIMUM_INSTANCE_COUNT: '7',
      NETWORK_ISOLATION: 'true',
      GRANT_DEPLOYER_ROLES: 'false',
      NOTIFIER_APP_SETTINGS: '{"NOTIFY_TARGETS":"ops"}',
      ALERT_EMAILS: '["ops@example.com"]',
      PRIVATE_DNS_ZONE_IDS: '{}',
    });
    assert.deepEqual(set.clusters, [clusterId(OTHER, 'rg-aks', 'aks1')]);
    assert.deepEqual(set.clusterScopes, [OTHER]);
    assert.equal(set.maximumInstanceCount, 7);
    assert.equal(set.networkIsolation, true);
    assert.equal(set.grantDeployerRoles, false);
    assert.deepEqual(set.extraAppSettings, { NOTIFY_TARGETS: 'ops' });
    // Go's booleans; a bool or int set to '' gets the template's default; an array set to '' stops azd.
    assert.equal(withEnv({ GRANT_DEPLOYER_ROLES: 'False' }).grantDeployerRoles, false);
    assert.ok(!('maximumInstanceCount' in withEnv({ MAXIMUM_INSTANCE_COUNT: '' })));
    assert.throws(() => withEnv({ AKS_CLUSTERS: '' }), /'clusters' \(array\): value '' is not valid JSON/);
    for (const name of ['clusters', 'clusterScopes', 'networkIsolation', 'maximumInstanceCount', 'deployerPrincipalId'])
      assert.ok(!(name in azdParameters(azdEnv, templateText)), `${name} unset: the template's default`);
    expand(set);
  });

  test('gives the deployer (azd: AZURE_PRINCIPAL_ID) the producer and operator roles, once, unless turned off', () => {
    const expected = [
      `storageBlobDataReader on containers/${settingDefaults().RESULT_CONTAINER_NAME}`,
      `storageQueueDataContributor on queues/${settingDefaults().COMMAND_QUEUE_NAME}`,
      `storageQueueDataContributor on queues/${settingDefaults().COMMAND_QUEUE_NAME}-poison`,
      `storageQueueDataMessageSender on queues/${settingDefaults().COMMAND_QUEUE_NAME}`,
      `storageTableDataContributor on tables/${settingDefaults().DELIVERY_TABLE_NAME}`,
    ];
    const on = expand(withEnv({ AZURE_PRINCIPAL_ID: DEPLOYER }));
    assert.deepEqual(storageRolesOf(on, DEPLOYER), expected);
    // Listed as a producer and an operator too, in capitals: still one assignment of each.
    const twice = expand(
      withEnv({
        AZURE_PRINCIPAL_ID: DEPLOYER,
        PRODUCER_PRINCIPAL_IDS: `["${DEPLOYER.toUpperCase()}"]`,
        OPERATOR_PRINCIPAL_IDS: `["${DEPLOYER}"]`,
      }),
    );
    assert.deepEqual(storageRolesOf(twice, DEPLOYER), expected);
    const off = expand(withEnv({ AZURE_PRINCIPAL_ID: DEPLOYER, GRANT_DEPLOYER_ROLES: 'false' }));
    assert.deepEqual(storageRolesOf(off, DEPLOYER), []);
    assert.equal(assignments(off).length, assignments(bare).length, 'the app keeps its own');
  });

  test('with no cluster and no scope: no role and no assignment outside the resource group', () => {
    assert.deepEqual(roleDefinitions(bare), []);
    assert.ok(assignments(bare).every((a) => a.id.includes(`/resourceGroups/rg-${azdEnv.AZURE_ENV_NAME}/`)));
    assert.equal(bare.outputs.CLUSTER_ROLE_DEFINITION_ID, '');
    assert.deepEqual(bare.outputs.CLUSTER_IDS, []);
  });

  test('assigns the reader role on each listed cluster, in any subscription, given by id or by name', () => {
    const snap = expand(
      withEnv({
        AKS_CLUSTERS: JSON.stringify([
          clusterId(OTHER, 'rg-aks', 'aks1'),
          { resourceGroup: 'rg-local', name: 'aks2' },
          { subscriptionId: OTHER, resourceGroup: 'rg-aks', name: 'aks3' },
          // Listed again, in another form and case: assigned once.
          { subscriptionId: OTHER, resourceGroup: 'RG-AKS', name: 'aks1' },
        ]),
      }),
    );
    const guid = readerGuidOf(snap);
    const [role] = roleDefinitions(snap);
    const props = role!.properties as { roleName: string; assignableScopes: string[] };
    assert.deepEqual(props.assignableScopes, [
      `/subscriptions/${SUBSCRIPTION}`,
      `/subscriptions/${OTHER}/resourcegroups/rg-aks`,
    ]);
    const ids = [
      clusterId(OTHER, 'rg-aks', 'aks1'),
      clusterId(SUBSCRIPTION, 'rg-local', 'aks2'),
      clusterId(OTHER, 'rg-aks', 'aks3'),
    ];
    const grants = readerGrants(snap, guid);
    assert.equal(grants.length, 3);
    for (const [i, id] of ids.entries()) {
      assert.ok(grants[i]!.id.includes(`'${id}'`), `on ${id}: ${grants[i]!.id}`);
      // The role definition is referred to in the subscription the assignment is in.
      assert.match(grants[i]!.roleDefinitionId, new RegExp(`^/subscriptions/${id.split('/')[2]}/providers/`));
      // Named after the identity's principal id: after `azd down`, a new identity gets a new assignment.
      assert.match(grants[i]!.id, /\.principalId, '[0-9a-f-]{36}'\)\)\]$/);
    }
    assert.deepEqual(snap.outputs.CLUSTER_IDS, ids);
    assert.equal(
      snap.outputs.CLUSTER_ROLE_DEFINITION_ID,
      `/subscriptions/${SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/${guid}`,
    );
  });

  test('assigns the reader role at each scope, so that a cluster created there later needs no redeploy', () => {
    const FLEET = '55555555-5555-5555-5555-555555555555';
    const scopes = [OTHER, `/subscriptions/${FLEET}/resourceGroups/rg-fleet`, `/subscriptions/${SUBSCRIPTION}`];
    // The first again, as an id: assigned once.
    const snap = expand(withEnv({ AKS_CLUSTER_SCOPES: JSON.stringify([...scopes, `/subscriptions/${OTHER}`]) }));
    const guid = readerGuidOf(snap);
    const grants = readerGrants(snap, guid).map((g) => g.id);
    assert.equal(grants.length, 3);
    assert.match(
      grants[0]!,
      new RegExp(`^\\[resourceId\\('${FLEET}', 'rg-fleet', 'Microsoft.Authorization/roleAssignments'`),
    );
    assert.match(
      grants[1]!,
      new RegExp(`^\\[subscriptionResourceId\\('${OTHER}', 'Microsoft.Authorization/roleAssignments'`),
    );
    assert.match(
      grants[2]!,
      new RegExp(`^\\[subscriptionResourceId\\('${SUBSCRIPTION}', 'Microsoft.Authorization/roleAssignments'`),
    );
    const props = roleDefinitions(snap)[0]!.properties as { assignableScopes: string[] };
    assert.deepEqual(props.assignableScopes, [
      `/subscriptions/${SUBSCRIPTION}`,
      `/subscriptions/${OTHER}`,
      `/subscriptions/${FLEET}/resourcegroups/rg-fleet`,
    ]);
    assert.deepEqual(snap.outputs.CLUSTER_SCOPES, [`/subscriptions/${OTHER}`, ...scopes.slice(1)]);
  });

  test('assigns an existing role instead of making one, given by GUID or by id', () => {
    const GIVEN = '0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8';
    for (const form of [GIVEN, `/providers/Microsoft.Authorization/roleDefinitions/${GIVEN}`]) {
      const snap = expand(
        withEnv({
          AKS_CLUSTERS: JSON.stringify([clusterId(OTHER, 'rg-aks', 'aks1')]),
          AKS_CLUSTER_SCOPES: '["/subscriptions/55555555-5555-5555-5555-555555555555"]',
          AKS_CLUSTER_ROLE_DEFINITION_ID: form,
        }),
      );
      assert.deepEqual(roleDefinitions(snap), [], 'no role is made');
      assert.equal(readerGrants(snap, GIVEN).length, 2, form);
      assert.match(String(snap.outputs.CLUSTER_ROLE_DEFINITION_ID), new RegExp(`${GIVEN}$`));
    }
  });

  test('names the made role per deployment: one environment name in two subscriptions or groups makes two roles', () => {
    const clusters = { AKS_CLUSTERS: JSON.stringify([clusterId(OTHER, 'rg-aks', 'aks1')]) };
    const here = roleDefinitions(expand(withEnv(clusters)))[0]!;
    const there = roleDefinitions(expand(withEnv(clusters), '44444444-4444-4444-4444-444444444444'))[0]!;
    const elsewhere = roleDefinitions(expand(withEnv({ ...clusters, NOTIFIER_RESOURCE_GROUP: 'rg-second' })))[0]!;
    const name = (r: Predicted) => (r.properties as { roleName: string }).roleName;
    assert.equal(name(here), `AKS command result reader (rg-${azdEnv.AZURE_ENV_NAME}, ${SUBSCRIPTION})`);
    assert.equal(new Set([here, there, elsewhere].map(name)).size, 3, 'role names are unique in the tenant');
    assert.equal(new Set([here, there, elsewhere].map((r) => r.name.split('/').pop())).size, 3, 'and so are GUIDs');
  });

  test('fails before deploying, naming the entry, for a cluster, scope, role or network it cannot use', () => {
    const subnet = (name: string) =>
      `/subscriptions/${OTHER}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/spoke/subnets/${name}`;
    const own = { APP_SUBNET_ID: subnet('app'), PRIVATE_ENDPOINT_SUBNET_ID: subnet('pe') };
    const cases: [Record<string, string>, RegExp][] = [
      [
        { AKS_CLUSTERS: '["/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"]' },
        /clusters: ".*virtualMachines\/vm" is not an AKS cluster/,
      ],
      [
        {
          AKS_CLUSTERS: `["subscriptions/${OTHER}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a"]`,
        },
        /clusters: "subscriptions\/.*\/a" is not an AKS cluster/,
      ],
      [
        { AKS_CLUSTER_SCOPES: `["/subscriptions/${OTHER}/resourceGroups"]` },
        /clusterScopes: ".*" is neither a subscription/,
      ],
      [
        { AKS_CLUSTERS: '[{"resourceGroup":"rg","name":"a"}]', AKS_CLUSTER_ROLE_DEFINITION_ID: 'Reader' },
        /clusterRoleDefinitionId: "Reader" is neither/,
      ],
      [{ APP_SUBNET_ID: subnet('app'), PRIVATE_ENDPOINT_SUBNET_ID: subnet('pe') }, /apply with networkIsolation/],
      [
        { NETWORK_ISOLATION: 'true', APP_SUBNET_ID: subnet('app') },
        /appSubnetId and privateEndpointSubnetId go together/,
      ],
      [
        {
          NETWORK_ISOLATION: 'true',
          APP_SUBNET_ID: subnet('app'),
          PRIVATE_ENDPOINT_SUBNET_ID: `/subscriptions/${OTHER}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/spoke`,
        },
        /is not a subnet's resource id/,
      ],
      [
        { NETWORK_ISOLATION: 'true', ...own, PRIVATE_DNS_ZONE_IDS: '{"files":"x"}' },
        /privateDnsZoneIds: "files" is no service here/,
      ],
      [
        {
          NETWORK_ISOLATION: 'true',
          ...own,
          PRIVATE_DNS_ZONE_IDS: `{"blob":"/subscriptions/${OTHER}/resourceGroups/dns/providers/Microsoft.Network/privateDnsZones/privatelink.queue.core.windows.net"}`,
        },
        /privateDnsZoneIds\.blob: .* is not the resource id of a privatelink\.blob\.\* private DNS zone/,
      ],
      [
        {
          NETWORK_ISOLATION: 'true',
          PRIVATE_DNS_ZONE_IDS: `{"blob":"/subscriptions/${OTHER}/resourceGroups/dns/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"}`,
        },
        /privateDnsZoneIds go with your own subnets/,
      ],
      [
        { NETWORK_ISOLATION: 'true', VNET_ADDRESS_PREFIX: '10.42.0.0' },
        /vnetAddressPrefix: "10.42.0.0" must be a \/8 to \/25/,
      ],
      [
        { NETWORK_ISOLATION: 'true', VNET_ADDRESS_PREFIX: '10.42.0.0/27' },
        /vnetAddressPrefix: "10.42.0.0\/27" must be a \/8 to \/25 range/,
      ],
    ];
    for (const [env, message] of cases) {
      const run = snapshot(withEnv(env));
      assert.notEqual(run.status, 0, JSON.stringify(env));
      assert.match(run.stderr, message, JSON.stringify(env));
    }
  });

  test('keeps Key Vault purge protection off unless asked, so that azd down --purge then azd up reuses the name', () => {
    const vaultOf = (snap: Snapshot) =>
      snap.predictedResources.find((r) => r.type === 'Microsoft.KeyVault/vaults')!.properties as Record<
        string,
        unknown
      >;
    assert.equal(vaultOf(bare).enableSoftDelete, true);
    assert.equal(vaultOf(bare).enablePurgeProtection ?? null, null, 'off is no value: Key Vault accepts no false');
    assert.equal(vaultOf(expand(withEnv({ KEY_VAULT_PURGE_PROTECTION: 'true' }))).enablePurgeProtection, true);
  });

  const ofType = (snap: Snapshot, type: string) => snap.predictedResources.filter((r) => r.type === type);
  const subnetOfSite = (snap: Snapshot) =>
    String(
      (ofType(snap, 'Microsoft.Web/sites')[0]!.properties as { virtualNetworkSubnetId?: string })
        .virtualNetworkSubnetId,
    );
  const endpointSubnets = (snap: Snapshot) =>
    ofType(snap, 'Microsoft.Network/privateEndpoints').map(
      (e) => (e.properties as { subnet: { id: string } }).subnet.id,
    );
  const zoneIdsOf = (snap: Snapshot) =>
    ofType(snap, 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups').map(
      (g) =>
        (g.properties as { privateDnsZoneConfigs: { properties: { privateDnsZoneId: string } }[] })
          .privateDnsZoneConfigs[0]!.properties.privateDnsZoneId,
    );

  test('network isolation, the VNet made here: two /26 subnets from the given prefix, a zone per service linked to it', () => {
    assert.deepEqual(ofType(bare, 'Microsoft.Network/virtualNetworks'), [], 'off by default');
    assert.deepEqual(ofType(bare, 'Microsoft.Network/privateEndpoints'), []);
    const snap = expand(withEnv({ NETWORK_ISOLATION: 'true', VNET_ADDRESS_PREFIX: '10.50.8.0/24' }));
    const [vnet] = ofType(snap, 'Microsoft.Network/virtualNetworks');
    const props = vnet!.properties as {
      addressSpace: { addressPrefixes: string[] };
      subnets: { name: string; properties: { addressPrefix: string } }[];
    };
    assert.deepEqual(props.addressSpace.addressPrefixes, ['10.50.8.0/24']);
    assert.deepEqual(
      props.subnets.map((s) => [s.name, s.properties.addressPrefix]),
      [
        ['app', '10.50.8.0/26'],
        ['endpoints', '10.50.8.64/26'],
      ],
    );
    assert.match(subnetOfSite(snap), /virtualNetworks\/vnet-infratest\/subnets\/app$/);
    assert.equal(endpointSubnets(snap).length, 4);
    assert.ok(endpointSubnets(snap).every((id) => id.endsWith('/virtualNetworks/vnet-infratest/subnets/endpoints')));
    assert.equal(ofType(snap, 'Microsoft.Network/privateDnsZones').length, 4);
    assert.equal(ofType(snap, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks').length, 4);
  });

  test("network isolation in one's own subnets: no VNet; the zones made here are linked to the app subnet's VNet", () => {
    const spoke = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/spoke`;
    const snap = expand(
      withEnv({
        NETWORK_ISOLATION: 'true',
        APP_SUBNET_ID: `${spoke}/subnets/func`,
        PRIVATE_ENDPOINT_SUBNET_ID: `${spoke}/subnets/pe`,
      }),
    );
    assert.deepEqual(ofType(snap, 'Microsoft.Network/virtualNetworks'), []);
    assert.equal(subnetOfSite(snap), `${spoke}/subnets/func`);
    assert.deepEqual(endpointSubnets(snap), Array(4).fill(`${spoke}/subnets/pe`));
    const links = ofType(snap, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks');
    assert.equal(links.length, 4);
    for (const l of links) assert.equal((l.properties as { virtualNetwork: { id: string } }).virtualNetwork.id, spoke);
  });

  test("network isolation with the hub's DNS zones: no zone and no link made for those, the endpoints registered in them", () => {
    const spoke = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/spoke`;
    const zone = (name: string) =>
      `/subscriptions/${OTHER}/resourceGroups/rg-hub-dns/providers/Microsoft.Network/privateDnsZones/${name}`;
    const hub = {
      blob: zone('privatelink.blob.core.windows.net'),
      queue: zone('privatelink.queue.core.windows.net'),
      table: zone('privatelink.table.core.windows.net'),
      vault: zone('privatelink.vaultcore.azure.net'),
    };
    const subnets = { APP_SUBNET_ID: `${spoke}/subnets/func`, PRIVATE_ENDPOINT_SUBNET_ID: `${spoke}/subnets/pe` };
    const all = expand(withEnv({ NETWORK_ISOLATION: 'true', ...subnets, PRIVATE_DNS_ZONE_IDS: JSON.stringify(hub) }));
    assert.deepEqual(ofType(all, 'Microsoft.Network/privateDnsZones'), []);
    assert.deepEqual(ofType(all, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks'), []);
    assert.deepEqual(zoneIdsOf(all), [hub.blob, hub.queue, hub.table, hub.vault]);
    // Some given: the others are made here, and linked to the app subnet's VNet.
    const some = expand(
      withEnv({ NETWORK_ISOLATION: 'true', ...subnets, PRIVATE_DNS_ZONE_IDS: JSON.stringify({ vault: hub.vault }) }),
    );
    assert.equal(ofType(some, 'Microsoft.Network/privateDnsZones').length, 3);
    assert.equal(ofType(some, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks').length, 3);
    assert.equal(zoneIdsOf(some)[3], hub.vault);
  });

  test('outputs what a producer or an operator needs, named as the CLI reads them from `azd env get-values`', () => {
    const outputs = bare.outputs as Record<string, unknown>;
    // Every name the CLI takes from an azd environment is an output, but the subscription, which azd keeps
    // itself; and the storage account, under the name an identity-based connection reads it by.
    for (const o of [...FROM_AZD].filter((n) => n !== 'AZURE_SUBSCRIPTION_ID'))
      assert.ok(o in outputs, `the CLI reads ${o} from azd, which the template does not output`);
    assert.ok('AzureWebJobsStorage__accountName' in outputs);
    // The environment azd writes (arrays as JSON), with the cloud's own values in public Azure; what only the
    // deployment knows (the identity's ids) left out.
    const publicCloud = (expression: string): string => {
      const js = expression
        .slice(1, -1)
        .replace(/environment\(\)\.suffixes\.storage/g, "'core.windows.net'")
        .replace(/environment\(\)\.resourceManager/g, "'https://management.azure.com/'");
      assert.doesNotMatch(js, /reference\(|environment\(/, js);
      const format = (f: string, ...a: string[]) => f.replace(/\{(\d+)\}/g, (_, i: string) => a[Number(i)]!);
      const uri = (base: string, path: string) => new URL(path, base).toString();
      return (new Function('format', 'uri', `return ${js};`) as (...f: unknown[]) => string)(format, uri);
    };
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(outputs)) {
      if (typeof v !== 'string') env[k] = JSON.stringify(v);
      else if (!v.startsWith('[')) env[k] = v;
      else if (!v.includes('reference(')) env[k] = publicCloud(v);
    }
    const account = env.AzureWebJobsStorage__accountName!;
    assert.equal(
      env.COMMAND_QUEUE_URL,
      `https://${account}.queue.core.windows.net/${settingDefaults().COMMAND_QUEUE_NAME}`,
    );
    assert.equal(parseQueueUrl('COMMAND_QUEUE_URL', env.COMMAND_QUEUE_URL!, env).toString(), env.COMMAND_QUEUE_URL);
    const storage = loadStorageSettings(env);
    assert.equal(storage.storage.queueServiceUri, `https://${account}.queue.core.windows.net`);
    assert.equal(storage.storage.tableServiceUri, `https://${account}.table.core.windows.net`);
    assert.equal(storage.storage.blobServiceUri, `https://${account}.blob.core.windows.net`);
    assert.equal(storage.deliveryTableName, settingDefaults().DELIVERY_TABLE_NAME);
    assert.equal(storage.resultContainerName, settingDefaults().RESULT_CONTAINER_NAME);
    assert.equal(storage.queueName, settingDefaults().COMMAND_QUEUE_NAME);
    const stored = bare.predictedResources.find((r) => r.type === 'Microsoft.Storage/storageAccounts')!;
    assert.equal(stored.name, account, 'the account the template makes');
  });

  it('deploys the bundle as the package.json main', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { main: string };
    assert.equal(pkg.main, 'dist/function/index.js');
  });
});
