import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, RANGES, loadConfig, scopeForArmEndpoint } from '../../src/config';
import { rangeText } from '../../src/settings/defaults';
import { readQueueHostSettings } from '../../src/hostSettings';
import { PROVIDERS } from '../../src/notify/registry';
import { settingDefaults, settingNames } from '../../src/settings/catalog';
import { COMMON_TARGET_CHOICES, COMMON_TARGET_OPTIONS } from '../../src/settings/targets';

const FIXED_SETTINGS = settingNames();

const BASE = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x',
};
const fails = (env: Record<string, string>, setting: string, pattern: RegExp) =>
  assert.throws(
    () => loadConfig({ ...BASE, ...env }),
    (e: unknown) => e instanceof ConfigError && e.setting === setting && pattern.test(e.message),
  );

/** The options every named target reads besides its kind's own (src/settings/targets.ts). */

/** The cells of a row of a markdown table: split at each | outside code spans that is not escaped (\\|). */
function cells(row: string): string[] {
  const found: string[] = [];
  let cell = '';
  let code = false;
  for (let i = 0; i < row.length; i++) {
    const ch = row[i]!;
    if (ch === '\\' && row[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (ch === '`') {
      code = !code;
      cell += ch;
    } else if (ch === '|' && !code) {
      found.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  return found.slice(1);
}

/** The rows (as cells) of the first table under a "## " heading of docs/settings.md, header and |---| skipped. */
function settingsTable(heading: string): string[][] {
  const lines = readFileSync('docs/settings.md', 'utf8').split(/\r?\n/);
  const start = lines.indexOf(`## ${heading}`);
  assert.ok(start >= 0, `docs/settings.md has no heading "## ${heading}"`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => l.startsWith('## '));
  const section = end < 0 ? rest : rest.slice(0, end);
  const first = section.findIndex((l) => l.startsWith('|'));
  assert.ok(first >= 0, `docs/settings.md: no table under "## ${heading}"`);
  const after = section.slice(first).findIndex((l) => !l.startsWith('|'));
  const table = section.slice(first, after < 0 ? undefined : first + after);
  return table.slice(2).map(cells);
}

/** The text of every TypeScript, Bicep and JSON file under these folders. */
function codeText(dirs: string[]): string {
  const read = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? e.name === 'node_modules' || e.name === 'obj'
          ? []
          : read(join(dir, e.name))
        : /\.(ts|bicep|json)$/.test(e.name)
          ? [readFileSync(join(dir, e.name), 'utf8')]
          : [],
    );
  return dirs
    .filter((d) => existsSync(d))
    .flatMap(read)
    .join('\n');
}

describe('settings', () => {
  it('have the documented defaults', () => {
    const c = loadConfig(BASE);
    assert.equal(c.queueName, 'aks-command-results');
    assert.equal(c.poisonQueueName, 'aks-command-results-poison');
    assert.equal(c.armEndpoint, 'https://management.azure.com');
    assert.equal(c.armScope, 'https://management.azure.com/.default');
    assert.equal(c.aksApiVersion, '2024-09-01');
    assert.deepEqual(c.poll, { initialDelaySeconds: 5, maxDelaySeconds: 60, timeoutMinutes: 120 });
    assert.deepEqual(c.delivery, { timeoutHours: 24, maxDelaySeconds: 900 });
    assert.equal(c.retentionDays, 30);
    assert.equal(c.resultContainerName, 'aksnotifier-results');
    assert.deepEqual(c.defaultTargets, ['slack']);
  });

  it('agree with host.json, local.settings.sample.json and docs/settings.md', () => {
    // docs/settings.md, "## App settings": the first column of its table holds one backticked name a row.
    // Every fixed setting name (settings/catalog.ts) is there, and so is a NOTIFY_TARGET_<NAME>_<OPTION> row for
    // every option any named target reads (_KIND, _ON…); a provider's own options are documented on its page
    // (test/docs/channels.test.ts) and may have a row here. The table names nothing else but
    // AzureWebJobsStorage__<property> forms (identity-based connections; the host reads some).
    // "## Read by the CLI, the host and the tests" lists names that are not app settings: each must occur
    // in the repository's code.
    const host = readQueueHostSettings();
    assert.equal(host.messageEncoding, 'none', 'the handler and our enqueue write plain JSON');
    // One source for the dequeue limit: host.json; no setting of ours competes with it.
    assert.ok(!(FIXED_SETTINGS as readonly string[]).includes('MAX_DEQUEUE_COUNT'));
    assert.ok(!readFileSync('local.settings.sample.json', 'utf8').includes('MAX_DEQUEUE_COUNT'));
    assert.ok(!readFileSync('infra/app/settings.json', 'utf8').includes('MAX_DEQUEUE_COUNT'));
    const sample = JSON.parse(readFileSync('local.settings.sample.json', 'utf8')) as { Values: Record<string, string> };
    for (const name of FIXED_SETTINGS) assert.ok(name in sample.Values, `local.settings.sample.json lacks ${name}`);

    const rows = settingsTable('App settings');
    const documented = rows.map(([cell = '']) => {
      const name = /^`([^`]+)`$/.exec(cell)?.[1];
      assert.ok(name, `docs/settings.md: the first column holds one backticked name a row, not "${cell}"`);
      return name;
    });
    for (const name of FIXED_SETTINGS)
      assert.ok(documented.includes(name), `docs/settings.md does not document ${name}`);
    const options = new Set([...COMMON_TARGET_OPTIONS, ...PROVIDERS.flatMap((p) => Object.keys(p.options))]);
    for (const option of COMMON_TARGET_OPTIONS) {
      const row = `NOTIFY_TARGET_<NAME>_${option}`;
      assert.ok(documented.includes(row), `docs/settings.md has no row for ${row}`);
    }
    for (const name of documented) {
      if ((FIXED_SETTINGS as readonly string[]).includes(name) || /^AzureWebJobsStorage__[A-Za-z]+$/.test(name))
        continue;
      const option = /^NOTIFY_TARGET_<NAME>_([A-Z_]+)$/.exec(name)?.[1];
      assert.ok(option && options.has(option), `docs/settings.md documents ${name}, which the code does not know`);
    }
    const everywhere = codeText(['src', 'dev', 'test', 'bench', 'scripts', 'infra']);
    for (const [cell = ''] of settingsTable('Read by the CLI, the host and the tests')) {
      for (const [, name] of cell.matchAll(/`([^`]+)`/g))
        assert.ok(everywhere.includes(name!), `docs/settings.md lists ${name}, which nothing in the repository reads`);
    }
  });

  it('are documented with the defaults, ranges and choices the code applies', () => {
    // docs/settings.md, "## App settings": | Setting | Default | Accepted | Meaning |. A default the code
    // applies is the Default cell, as one code span; a setting without one shows none there. A numeric
    // setting's range is the Accepted cell, in the words its error uses; a named target's choices are listed
    // as the code reads them; every option a kind reads has a row naming that kind.
    const rows = new Map(
      settingsTable('App settings').map(([name = '', ...rest]) => [name.replace(/^`|`$/g, ''), rest]),
    );
    const row = (name: string) => {
      const found = rows.get(name);
      assert.ok(found && found.length === 3, `docs/settings.md: ${name} has no row of four cells`);
      return { default: found[0]!, accepted: found[1]!, text: found.join(' | ') };
    };
    const defaults = settingDefaults();
    for (const name of FIXED_SETTINGS) {
      const { default: cell } = row(name);
      if (name in defaults) assert.equal(cell, `\`${defaults[name]}\``, `docs/settings.md: the default of ${name}`);
      else
        assert.doesNotMatch(
          cell,
          /^`[^`]*`$/,
          `docs/settings.md: ${name} has no default in the code, the row names one`,
        );
    }
    const numeric = Object.keys(RANGES) as (keyof typeof RANGES)[];
    for (const name of numeric)
      assert.equal(row(name).accepted, rangeText(name), `docs/settings.md: the range of ${name}`);
    for (const [name, cellsOf] of rows) {
      if (!(numeric as string[]).includes(name))
        assert.doesNotMatch(cellsOf[1] ?? '', /number from/, `docs/settings.md: ${name} is not numeric in the code`);
    }
    for (const [option, { values, default: fallback }] of Object.entries(COMMON_TARGET_CHOICES)) {
      const r = row(`NOTIFY_TARGET_<NAME>_${option}`);
      assert.equal(r.default, `\`${fallback}\``, `docs/settings.md: the default of _${option}`);
      assert.equal(
        r.accepted,
        values.map((v) => `\`${v}\``).join(' or '),
        `docs/settings.md: the choices of _${option}`,
      );
    }
    // A name's rule is what its error says the name must be.
    for (const name of ['COMMAND_QUEUE_NAME', 'DELIVERY_TABLE_NAME', 'RESULT_CONTAINER_NAME']) {
      assert.throws(
        () => loadConfig({ ...BASE, [name]: '-' }),
        (e: unknown) => e instanceof ConfigError && e.message === `${name}: must be ${row(name).accepted}`,
        `docs/settings.md: what ${name} accepts`,
      );
    }
    const kinds = row('NOTIFY_TARGET_<NAME>_KIND').accepted;
    for (const p of PROVIDERS)
      assert.ok(kinds.includes(`\`${p.kind}\``), `docs/settings.md: _KIND does not list ${p.kind}`);
    for (const p of PROVIDERS) {
      for (const option of Object.keys(p.options)) {
        const r = row(`NOTIFY_TARGET_<NAME>_${option}`);
        assert.ok(
          r.text.includes(`\`${p.kind}\``),
          `docs/settings.md: the row of _${option} does not name ${p.kind}, which reads it`,
        );
      }
    }
  });

  it('derive the token scope from the ARM endpoint (sovereign clouds, stand-ins)', () => {
    assert.equal(
      scopeForArmEndpoint('https://management.usgovcloudapi.net/'),
      'https://management.usgovcloudapi.net/.default',
    );
    assert.equal(
      scopeForArmEndpoint('https://management.chinacloudapi.cn'),
      'https://management.chinacloudapi.cn/.default',
    );
    assert.equal(
      loadConfig({ ...BASE, ARM_ENDPOINT: 'https://127.0.0.1:8443' }).armScope,
      'https://127.0.0.1:8443/.default',
    );
  });

  it('fail fast and name the setting', () => {
    fails({ ARM_ENDPOINT: 'http://management.azure.com' }, 'ARM_ENDPOINT', /https/);
    fails({ ARM_ENDPOINT: 'http://127.0.0.1:1' }, 'ARM_ENDPOINT', /https/);
    fails({ ARM_ENDPOINT: 'https://management.azure.com/x' }, 'ARM_ENDPOINT', /origin/);
    fails({ SLACK_WEBHOOK_URL: 'http://hooks.slack.com/x' }, 'SLACK_WEBHOOK_URL', /https/);
    fails({ POLL_INITIAL_DELAY_SECONDS: 'soon' }, 'POLL_INITIAL_DELAY_SECONDS', /number/);
    fails({ POLL_MAX_DELAY_SECONDS: '2' }, 'POLL_MAX_DELAY_SECONDS', /at least/);
    fails({ LEDGER_RETENTION_DAYS: '2.5' }, 'LEDGER_RETENTION_DAYS', /whole/);
    fails(
      { LEDGER_RETENTION_DAYS: '1' },
      'LEDGER_RETENTION_DAYS',
      /must cover POLL_TIMEOUT_MINUTES plus DELIVERY_TIMEOUT_HOURS \(at least 2 days\)/,
    );
    fails({ RESULT_CONTAINER_NAME: 'Results' }, 'RESULT_CONTAINER_NAME', /lowercase/);
    fails({ COMMAND_QUEUE_NAME: 'Bad_Name' }, 'COMMAND_QUEUE_NAME', /lowercase/);
    fails({ AKS_API_VERSION: 'latest' }, 'AKS_API_VERSION', /2024-09-01/);
    assert.throws(() => loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }), /no notification target/);
  });

  it('report an unresolved Key Vault reference by setting name, never by value', () => {
    const ref = '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/slack/)';
    assert.throws(
      () => loadConfig({ ...BASE, TEAMS_WEBHOOK_URL: ref }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.setting === 'TEAMS_WEBHOOK_URL' &&
        /Key Vault/.test(e.message) &&
        !e.message.includes('kv.vault'),
    );
  });

  it('judge only their own settings', () => {
    const ref = '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/)';
    assert.doesNotThrow(() => loadConfig({ ...BASE, SOME_OTHER_APP_SETTING: ref }));
    assert.throws(
      () => loadConfig({ ...BASE, NOTIFY_TARGETS: 'ops', NOTIFY_TARGET_OPS_KIND: 'slack', NOTIFY_TARGET_OPS_URL: ref }),
      /NOTIFY_TARGET_OPS_URL: is an unresolved Key Vault reference/,
    );
  });

  it('read a Slack app target: channel id, bot token (a secret), SLACK_API_URL under the URL rules', () => {
    const app = {
      NOTIFY_TARGETS: 'ops',
      NOTIFY_TARGET_OPS_KIND: 'slack-app',
      NOTIFY_TARGET_OPS_CHANNEL: 'C0123456789',
      NOTIFY_TARGET_OPS_TOKEN: 'xoxb-1234-5678-abcdefghij',
    };
    const c = loadConfig({ ...BASE, ...app });
    const ops = c.targets.find((t) => t.name === 'ops')!;
    assert.equal(ops.kind, 'slack-app');
    assert.deepEqual(ops.settings, {
      channel: 'C0123456789',
      token: 'xoxb-1234-5678-abcdefghij',
      apiUrl: 'https://slack.com/api/',
      channelSetting: 'NOTIFY_TARGET_OPS_CHANNEL',
      tokenSetting: 'NOTIFY_TARGET_OPS_TOKEN',
    });
    assert.deepEqual(ops.secrets, ['xoxb-1234-5678-abcdefghij']);
    assert.ok(!ops.provider.describe(ops.settings).includes('xoxb'), 'described by setting names, never by value');
    assert.equal(
      (
        loadConfig({ ...BASE, ...app, SLACK_API_URL: 'http://127.0.0.1:9/api/' }).targets[1]!.settings as {
          apiUrl: string;
        }
      ).apiUrl,
      'http://127.0.0.1:9/api/',
    );
    fails({ ...app, NOTIFY_TARGET_OPS_CHANNEL: '' }, 'NOTIFY_TARGET_OPS_CHANNEL', /required.*channel id/);
    fails({ ...app, NOTIFY_TARGET_OPS_CHANNEL: '#ops' }, 'NOTIFY_TARGET_OPS_CHANNEL', /channel id/);
    fails({ ...app, NOTIFY_TARGET_OPS_TOKEN: '' }, 'NOTIFY_TARGET_OPS_TOKEN', /bot token/);
    fails(
      { ...app, NOTIFY_TARGET_OPS_TOKEN: 'xoxp-user-token-123456' },
      'NOTIFY_TARGET_OPS_TOKEN',
      /bot token \(xoxb-/,
    );
    fails({ ...app, SLACK_API_URL: 'http://slack.example/api/' }, 'SLACK_API_URL', /https/);
    fails({ ...app, SLACK_API_URL: 'https://user:pw@slack.com/api/' }, 'SLACK_API_URL', /credentials/);
    fails({ ...app, SLACK_API_URL: 'https://slack.com/api' }, 'SLACK_API_URL', /end with/);
    // The token's value never appears in an error.
    assert.throws(
      () => loadConfig({ ...BASE, ...app, NOTIFY_TARGET_OPS_TOKEN: 'xoxb-$$$secret$$$' }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes('secret'),
    );
  });

  it('allow http webhooks only on loopback', () => {
    assert.equal(
      (loadConfig({ ...BASE, SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/slack/x' }).targets[0]!.settings as { url: string })
        .url,
      'http://127.0.0.1:9/slack/x',
    );
    fails({ SLACK_WEBHOOK_URL: 'http://10.0.0.1/slack' }, 'SLACK_WEBHOOK_URL', /https/);
  });

  it('read identity-based storage connections', () => {
    const c = loadConfig({
      SLACK_WEBHOOK_URL: BASE.SLACK_WEBHOOK_URL,
      AzureWebJobsStorage__queueServiceUri: 'https://acct.queue.core.windows.net',
      AzureWebJobsStorage__tableServiceUri: 'https://acct.table.core.windows.net',
      AzureWebJobsStorage__blobServiceUri: 'https://acct.blob.core.windows.net',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: 'abc',
    });
    assert.deepEqual(c.storage, {
      queueServiceUri: 'https://acct.queue.core.windows.net',
      tableServiceUri: 'https://acct.table.core.windows.net',
      blobServiceUri: 'https://acct.blob.core.windows.net',
      clientId: 'abc',
    });
    assert.equal(
      loadConfig({ SLACK_WEBHOOK_URL: BASE.SLACK_WEBHOOK_URL, AzureWebJobsStorage__accountName: 'acct' }).storage
        .tableServiceUri,
      'https://acct.table.core.windows.net',
    );
  });

  it('send a Storage token only to Storage hosts of the cloud ARM_ENDPOINT names, or to loopback', () => {
    const identity = (uri: string, extra: Record<string, string> = {}) => ({
      AzureWebJobsStorage: undefined as unknown as string,
      AzureWebJobsStorage__queueServiceUri: uri,
      AzureWebJobsStorage__tableServiceUri: 'https://acct.table.core.windows.net',
      AzureWebJobsStorage__blobServiceUri: 'https://acct.blob.core.windows.net',
      ...extra,
    });
    for (const uri of [
      'https://acct.queue.core.windows.net',
      'https://acct.queue.core.windows.net/',
      'https://127.0.0.1:10001/devstoreaccount1',
      'http://localhost:10001/devstoreaccount1',
    ]) {
      assert.doesNotThrow(() => loadConfig({ ...BASE, ...identity(uri) }), uri);
    }
    for (const uri of [
      'https://evil.example.com',
      'https://acct.queue.core.windows.net.evil.example',
      'https://acct.blob.core.windows.net',
      'https://acct.queue.core.usgovcloudapi.net',
      'https://ACCT_X.queue.core.windows.net',
      'https://acct.queue.core.windows.net:8443',
      'http://acct.queue.core.windows.net',
      'https://acct.queue.core.windows.net/?sv=2024&sig=abc',
    ]) {
      fails(identity(uri), 'AzureWebJobsStorage__queueServiceUri', /must (be|not carry)/);
    }
    assert.doesNotThrow(() =>
      loadConfig({
        ...BASE,
        ...identity('https://acct.queue.core.usgovcloudapi.net', {
          ARM_ENDPOINT: 'https://management.usgovcloudapi.net',
          AzureWebJobsStorage__tableServiceUri: 'https://acct.table.core.usgovcloudapi.net',
          AzureWebJobsStorage__blobServiceUri: 'https://acct.blob.core.usgovcloudapi.net',
        }),
      }),
    );
    assert.equal(
      loadConfig({
        ...BASE,
        AzureWebJobsStorage: undefined as unknown as string,
        AzureWebJobsStorage__accountName: 'acct',
        ARM_ENDPOINT: 'https://management.chinacloudapi.cn',
      }).storage.queueServiceUri,
      'https://acct.queue.core.chinacloudapi.cn',
    );
    fails(
      identity('https://acct.queue.core.windows.net', { ARM_ENDPOINT: 'https://management.example.org' }),
      'AzureWebJobsStorage__queueServiceUri',
      /ARM_ENDPOINT names no cloud this app knows/,
    );
    fails(
      { AzureWebJobsStorage: undefined as unknown as string, AzureWebJobsStorage__accountName: 'evil.example.com/x' },
      'AzureWebJobsStorage__accountName',
      /3-24 lowercase letters and digits/,
    );
  });

  it('name the storage service a connection string misses (an emulator habit: only QueueEndpoint)', () => {
    const queueOnly =
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;';
    fails(
      { AzureWebJobsStorage: queueOnly },
      'AzureWebJobsStorage',
      /has no TableEndpoint \(the delivery ledger needs the Table service\): it names only QueueEndpoint/,
    );
    fails(
      { AzureWebJobsStorage: `${queueOnly}TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;` },
      'AzureWebJobsStorage',
      /has no BlobEndpoint \(the stored results need the Blob service\)/,
    );
    assert.doesNotThrow(() =>
      loadConfig({
        ...BASE,
        AzureWebJobsStorage:
          'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net',
      }),
    );
    fails(
      {
        AzureWebJobsStorage: undefined as unknown as string,
        AzureWebJobsStorage__queueServiceUri: 'https://acct.queue.core.windows.net',
      },
      'AzureWebJobsStorage__tableServiceUri',
      /Table service/,
    );
  });

  it('reject every numeric setting outside its range, naming the setting and the range', () => {
    for (const [name, [min, max]] of Object.entries(RANGES)) {
      for (const bad of [String(min / 2 === min ? min - 1 : min / 2), String(max * 2)]) {
        assert.throws(
          () => loadConfig({ ...BASE, [name]: bad }),
          (e: unknown) => e instanceof ConfigError && e.setting === name && e.message.includes(`from ${min} to ${max}`),
          `${name}=${bad}`,
        );
      }
    }
    fails({ POLL_TIMEOUT_MINUTES: '0.0001' }, 'POLL_TIMEOUT_MINUTES', /from 0\.05 to 10080/);
    fails({ ARM_READS_PER_SECOND: '0.0000001' }, 'ARM_READS_PER_SECOND', /from 1 to 10000/);
    assert.equal(loadConfig({ ...BASE, POLL_TIMEOUT_MINUTES: '0.05' }).poll.timeoutMinutes, 0.05);
  });
});
