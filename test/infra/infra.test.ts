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
import { APP_NODE_MAJOR } from '../../scripts/build';
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

/** The parameters azd passes: infra/main.parameters.json with ${VAR} and ${VAR=default} substituted. */
function azdParameters(env: Record<string, string>): Record<string, unknown> {
  const text = readFileSync('infra/main.parameters.json', 'utf8').replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:=([^}]*))?\}/g,
    (_, name: string, fallback?: string) => env[name] ?? fallback ?? '',
  );
  const file = JSON.parse(text) as { parameters: Record<string, { value: unknown }> };
  return Object.fromEntries(Object.entries(file.parameters).map(([k, p]) => [k, p.value]));
}

const ROLE = {
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
  const snapshot = (parameters: Record<string, unknown>) => {
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
        '11111111-1111-1111-1111-111111111111',
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
  const expand = (parameters: Record<string, unknown>): Snapshot => {
    const run = snapshot(parameters);
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
    bare = expand(azdParameters(azdEnv));
    const parameters = azdParameters({ ...azdEnv, SLACK_WEBHOOK_URL: SECRET_WEBHOOK });
    given = expand({
      ...parameters,
      secretSettings: { ...(parameters.secretSettings as object), NOTIFY_TARGET_OPS_TOKEN: SECRET_TOKEN },
      extraAppSettings: {
        NOTIFY_TARGETS: 'ops',
        NOTIFY_TARGET_OPS_KIND: 'slack-app',
        NOTIFY_TARGET_OPS_CHANNEL: 'C0INFRA',
      },
    });
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

  test('takes secrets as one secure object of app settings, with no parameter per channel', () => {
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
    const base = azdParameters(azdEnv);
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
    assert.match(
      templateText,
      /"condition": "\[parameters\('networkIsolation'\)\]"/,
      'the network module is conditional',
    );
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
        const empty = Array.isArray(x) ? x.length === 0 : !!x && typeof x === 'object' && Object.keys(x).length === 0;
        if (empty && !skipEmpty.has(k) && !path.endsWith('.userAssignedIdentities'))
          problems.push(`${path}.${k}: an empty property`);
        const text =
          typeof x === 'string'
            ? x
            : typeof (x as Json | undefined)?.value === 'string'
              ? ((x as Json).value as string)
              : undefined;
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
    const withBot = expand({ ...azdParameters(azdEnv), teamsBot: true });
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

  test('outputs what a user needs next', () => {
    const outputs = Object.keys((JSON.parse(templateText) as { outputs: Json }).outputs);
    for (const o of [
      'AZURE_FUNCTION_APP_NAME',
      'COMMAND_QUEUE_URL',
      'IDENTITY_CLIENT_ID',
      'IDENTITY_PRINCIPAL_ID',
      'TEAMS_BOT_ID',
    ])
      assert.ok(outputs.includes(o), o);
  });

  it('has an azd project file and a package that holds only the bundle', () => {
    const azure = readFileSync('azure.yaml', 'utf8');
    assert.match(azure, /host: function/);
    assert.match(azure, /language: ts/);
    assert.match(azure, /prepackage:\s+shell: sh\s+run: npm run package/, 'azd builds the same package as the az path');
    const funcignore = readFileSync('.funcignore', 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(funcignore, [
      '*',
      '!host.json',
      '!package.json',
      '!dist/',
      '!dist/function/',
      '!dist/function/*.js',
    ]);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { main: string };
    assert.equal(pkg.main, 'dist/function/index.js');
  });
});
