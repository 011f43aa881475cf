import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULTS, SETTING_NAMES, loadConfig, scopeForArmEndpoint } from '../../src/config';
import { readQueueHostSettings } from '../../src/cli/hostSettings';

const BASE = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' };
const fails = (env: Record<string, string>, setting: string, pattern: RegExp) =>
  assert.throws(() => loadConfig({ ...BASE, ...env }), (e: unknown) => e instanceof ConfigError && e.setting === setting && pattern.test(e.message));

describe('settings', () => {
  it('have the documented defaults', () => {
    const c = loadConfig(BASE);
    assert.equal(c.queueName, 'aks-command-results');
    assert.equal(c.poisonQueueName, 'aks-command-results-poison');
    assert.equal(c.armEndpoint, 'https://management.azure.com');
    assert.equal(c.armScope, 'https://management.azure.com/.default');
    assert.equal(c.aksApiVersion, '2024-09-01');
    assert.deepEqual(c.poll, { initialDelaySeconds: 5, maxDelaySeconds: 60, timeoutMinutes: 120 });
    assert.equal(c.maxDequeueCount, 5);
    assert.deepEqual(c.defaultTargets, ['slack']);
  });

  it('agree with host.json, local.settings.sample.json and the README', () => {
    const host = readQueueHostSettings();
    assert.equal(host.maxDequeueCount, DEFAULTS.MAX_DEQUEUE_COUNT);
    assert.equal(host.messageEncoding, 'none', 'the handler and our enqueue write plain JSON');
    const sample = JSON.parse(readFileSync('local.settings.sample.json', 'utf8')) as { Values: Record<string, string> };
    const readme = readFileSync('README.md', 'utf8');
    for (const name of SETTING_NAMES) {
      assert.ok(name in sample.Values, `local.settings.sample.json lacks ${name}`);
      assert.ok(readme.includes(`\`${name}\``), `README does not document ${name}`);
    }
  });

  it('derive the token scope from the ARM endpoint (sovereign clouds, stand-ins)', () => {
    assert.equal(scopeForArmEndpoint('https://management.usgovcloudapi.net/'), 'https://management.usgovcloudapi.net/.default');
    assert.equal(scopeForArmEndpoint('https://management.chinacloudapi.cn'), 'https://management.chinacloudapi.cn/.default');
    assert.equal(loadConfig({ ...BASE, ARM_ENDPOINT: 'https://127.0.0.1:8443' }).armScope, 'https://127.0.0.1:8443/.default');
  });

  it('fail fast and name the setting', () => {
    fails({ ARM_ENDPOINT: 'http://management.azure.com' }, 'ARM_ENDPOINT', /https/);
    fails({ ARM_ENDPOINT: 'http://127.0.0.1:1' }, 'ARM_ENDPOINT', /https/);
    fails({ ARM_ENDPOINT: 'https://management.azure.com/x' }, 'ARM_ENDPOINT', /origin/);
    fails({ SLACK_WEBHOOK_URL: 'http://hooks.slack.com/x' }, 'SLACK_WEBHOOK_URL', /https/);
    fails({ POLL_INITIAL_DELAY_SECONDS: 'soon' }, 'POLL_INITIAL_DELAY_SECONDS', /number/);
    fails({ POLL_MAX_DELAY_SECONDS: '2' }, 'POLL_MAX_DELAY_SECONDS', /at least/);
    fails({ MAX_DEQUEUE_COUNT: '2.5' }, 'MAX_DEQUEUE_COUNT', /whole/);
    fails({ COMMAND_QUEUE_NAME: 'Bad_Name' }, 'COMMAND_QUEUE_NAME', /lowercase/);
    fails({ AKS_API_VERSION: 'latest' }, 'AKS_API_VERSION', /2024-09-01/);
    assert.throws(() => loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }), /no notification target/);
  });

  it('report an unresolved Key Vault reference by setting name, never by value', () => {
    const ref = '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/slack/)';
    assert.throws(
      () => loadConfig({ ...BASE, TEAMS_WEBHOOK_URL: ref }),
      (e: unknown) => e instanceof ConfigError && e.setting === 'TEAMS_WEBHOOK_URL' && /Key Vault/.test(e.message) && !e.message.includes('kv.vault'),
    );
  });

  it('judge only their own settings', () => {
    const ref = '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/)';
    assert.doesNotThrow(() => loadConfig({ ...BASE, SOME_OTHER_APP_SETTING: ref }));
    assert.throws(() => loadConfig({ ...BASE, NOTIFY_TARGETS: 'ops', NOTIFY_TARGET_OPS_KIND: 'slack', NOTIFY_TARGET_OPS_URL: ref }), /NOTIFY_TARGET_OPS_URL: is an unresolved Key Vault reference/);
  });

  it('allow http webhooks only on loopback', () => {
    assert.equal(loadConfig({ ...BASE, SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/slack/x' }).targets[0]!.url, 'http://127.0.0.1:9/slack/x');
    fails({ SLACK_WEBHOOK_URL: 'http://10.0.0.1/slack' }, 'SLACK_WEBHOOK_URL', /https/);
  });

  it('read identity-based storage connections', () => {
    const c = loadConfig({
      SLACK_WEBHOOK_URL: BASE.SLACK_WEBHOOK_URL,
      AzureWebJobsStorage__queueServiceUri: 'https://acct.queue.core.windows.net',
      AzureWebJobsStorage__tableServiceUri: 'https://acct.table.core.windows.net',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: 'abc',
    });
    assert.deepEqual(c.storage, { queueServiceUri: 'https://acct.queue.core.windows.net', tableServiceUri: 'https://acct.table.core.windows.net', clientId: 'abc' });
    assert.equal(loadConfig({ SLACK_WEBHOOK_URL: BASE.SLACK_WEBHOOK_URL, AzureWebJobsStorage__accountName: 'acct' }).storage.tableServiceUri, 'https://acct.table.core.windows.net');
  });
});
