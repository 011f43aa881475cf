// infra/ built and linted by the real Bicep CLI, then the compiled ARM JSON checked for what a security
// review asks: no keys, shared key off, least privilege, secrets in Key Vault, Node >= 22, settings that
// match what the code reads.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { DEFAULTS, SETTING_NAMES } from '../../src/config';
import { METRICS } from '../../src/telemetry/telemetry';
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

const ROLE = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a',
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
};

describe('infra (Bicep)', () => {
  let cli: BicepCli | undefined;
  let templateText = '';
  let resources: Resource[] = [];
  const of = (type: string) => resources.filter((r) => r.type.toLowerCase() === type.toLowerCase());

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
    assert.equal(settings.COMMAND_QUEUE_NAME, DEFAULTS.COMMAND_QUEUE_NAME);
    assert.equal(settings.DELIVERY_TABLE_NAME, DEFAULTS.DELIVERY_TABLE_NAME);
  });

  test('runs on Flex Consumption, Node >= 22, deploying from blob with the identity', () => {
    const [plan] = of('Microsoft.Web/serverfarms');
    assert.deepEqual((plan as unknown as { sku: Json }).sku, { name: 'FC1', tier: 'FlexConsumption' });
    const [site] = of('Microsoft.Web/sites');
    assert.ok(site);
    const config = site.properties!.functionAppConfig as {
      runtime: { name: string; version: string };
      deployment: { storage: { authentication: { type: string } } };
    };
    assert.equal(config.runtime.name, 'node');
    assert.ok(Number(config.runtime.version) >= 22);
    assert.equal(config.deployment.storage.authentication.type, 'UserAssignedIdentity');
    assert.match(String(site.properties!.keyVaultReferenceIdentity), /identityId/);
    assert.equal(site.properties!.httpsOnly, true);
    assert.match(JSON.stringify((site as unknown as { identity: Json }).identity), /UserAssigned/);
    const policies = of('Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    assert.equal(policies.length, 2);
    assert.ok(policies.every((p) => p.properties!.allow === false));
  });

  test("sets every setting the code reads, with the code's defaults, and identity-based storage", () => {
    const [site] = of('Microsoft.Web/sites');
    const text = site!.templateText;
    const settings = JSON.parse(readFileSync('infra/app/settings.json', 'utf8')) as Record<string, string>;
    for (const [name, value] of Object.entries(settings)) {
      assert.ok(name in DEFAULTS, `${name} in infra/app/settings.json is not a setting of src/config.ts`);
      assert.equal(
        String(DEFAULTS[name as keyof typeof DEFAULTS]),
        value,
        `${name}: infra ${value}, code ${DEFAULTS[name as keyof typeof DEFAULTS]}`,
      );
    }
    const inTemplate = (name: string) =>
      name in settings ||
      text.includes(`'${name}'`) ||
      text.includes(`"${name}"`) ||
      templateText.includes(`'${name}'`);
    const optional = new Set(['NOTIFY_TARGETS', 'NOTIFY_DEFAULT_TARGETS', 'SLACK_CLUSTERS', 'TEAMS_CLUSTERS']); // per deployment, through extraAppSettings
    for (const name of SETTING_NAMES) {
      if (name === 'AzureWebJobsStorage') {
        for (const part of [
          '__credential',
          '__clientId',
          '__blobServiceUri',
          '__queueServiceUri',
          '__tableServiceUri',
        ]) {
          assert.ok(text.includes(`AzureWebJobsStorage${part}`), `AzureWebJobsStorage${part}`);
        }
      } else if (!optional.has(name)) {
        assert.ok(inTemplate(name), `infra does not set ${name}`);
      }
    }
    assert.match(text, /APPLICATIONINSIGHTS_AUTHENTICATION_STRING.*Authorization=AAD/);
    assert.doesNotMatch(text, /FUNCTIONS_WORKER_RUNTIME/, 'Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME');
  });

  test('surfaces webhook URLs and the Slack bot token only as Key Vault references', () => {
    const [site] = of('Microsoft.Web/sites');
    const text = site!.templateText;
    assert.match(
      text,
      /union\(parameters\('settings'\), parameters\('keyVaultReferences'\)/,
      'the app settings take the references the vault module makes',
    );
    const [vaultModule] = of('Microsoft.KeyVault/vaults');
    assert.match(vaultModule!.templateText, /@Microsoft\.KeyVault\(VaultName=\{0\};SecretName=/);
    for (const [setting, secret] of [
      ['SLACK_WEBHOOK_URL', 'slack'],
      ['TEAMS_WEBHOOK_URL', 'teams'],
      ['NOTIFY_TARGET_SLACK_APP_TOKEN', 'slackApp'],
    ]) {
      assert.match(
        vaultModule!.templateText,
        new RegExp(
          `createObject\\('${setting}', format\\('\\{0\\}\\{1\\}\\)', variables\\('vaultReference'\\), variables\\('secretNames'\\)\\.${secret}\\)\\)`,
        ),
        setting,
      );
    }
    assert.match(templateText, /'NOTIFY_TARGET_SLACK_APP_KIND', 'slack-app'/);
    const [vault] = of('Microsoft.KeyVault/vaults');
    assert.equal(vault!.properties!.enableRbacAuthorization, true);
    const main = JSON.parse(templateText) as {
      parameters: Record<string, { type: string }>;
      outputs: Record<string, unknown>;
    };
    assert.equal(main.parameters.slackWebhookUrl!.type, 'securestring');
    assert.equal(main.parameters.teamsWebhookUrl!.type, 'securestring');
    assert.equal(main.parameters.slackBotToken!.type, 'securestring');
    assert.doesNotMatch(JSON.stringify(main.outputs), /WebhookUrl|BotToken/);
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

  test('alerts on poison, backlog, undeliverable notifications, ARM 403s and failures, through one action group', () => {
    const rules = of('Microsoft.Insights/scheduledQueryRules');
    assert.equal(rules.length, 1, 'one rule resource, in a loop over the rules');
    const module = JSON.parse(rules[0]!.templateText) as { variables: { rules: { name: string; query: string }[] } };
    const byName = Object.fromEntries(module.variables.rules.map((r) => [r.name, r.query]));
    assert.deepEqual(Object.keys(byName).sort(), [
      'arm-forbidden',
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

  test('holds to the arm-ttk rules it once failed (arm-ttk itself cannot run in CI; README, Deploy)', () => {
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

  test('outputs what a user needs next', () => {
    const outputs = Object.keys((JSON.parse(templateText) as { outputs: Json }).outputs);
    for (const o of ['AZURE_FUNCTION_APP_NAME', 'COMMAND_QUEUE_URL', 'IDENTITY_CLIENT_ID', 'IDENTITY_PRINCIPAL_ID'])
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
