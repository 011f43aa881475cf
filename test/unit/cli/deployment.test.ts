// Where the CLI finds its deployment: the dotenv lines azd writes, read back as written; only the outputs,
// the storage connection and the subscription taken from them; the environment first; and a queue and a
// ledger that never come from two places. And az's way of naming a cluster.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { clustersFromFlags, mergeAzdEnv, parseDotenv } from '../../../src/cli/deployment';

const SUB = '11111111-2222-3333-4444-555555555555';

describe('the deployment the CLI reads', () => {
  it('reads the dotenv lines azd writes (quotes and escapes as godotenv writes them)', () => {
    const env = parseDotenv(
      [
        'AZURE_ENV_NAME="dev"',
        'CLUSTER_IDS="[\\"/subscriptions/a\\",\\"/subscriptions/b\\"]"',
        'MULTI="one\\ntwo"',
        "SINGLE='as is \\n'",
        'BARE=plain',
        '# a comment',
        'export EXPORTED="x"',
      ].join('\n'),
    );
    assert.deepEqual(env, {
      AZURE_ENV_NAME: 'dev',
      CLUSTER_IDS: '["/subscriptions/a","/subscriptions/b"]',
      MULTI: 'one\ntwo',
      SINGLE: 'as is \\n',
      BARE: 'plain',
      EXPORTED: 'x',
    });
  });

  it("takes the outputs, not the deployment's inputs; the environment wins, name by name", () => {
    const merged = mergeAzdEnv(
      { COMMAND_QUEUE_NAME: 'mine', PATH: '/bin' },
      {
        COMMAND_QUEUE_URL: 'https://st1.queue.core.windows.net/commands',
        COMMAND_QUEUE_NAME: 'commands',
        IDENTITY_PRINCIPAL_ID: 'p',
        AZURE_SUBSCRIPTION_ID: SUB,
        SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/secret',
        NOTIFIER_APP_SETTINGS: '{"NOTIFY_TARGETS":"ops"}',
        AZURE_LOCATION: 'westeurope',
      },
    );
    assert.deepEqual(merged, {
      COMMAND_QUEUE_URL: 'https://st1.queue.core.windows.net/commands',
      COMMAND_QUEUE_NAME: 'mine',
      IDENTITY_PRINCIPAL_ID: 'p',
      AZURE_SUBSCRIPTION_ID: SUB,
      PATH: '/bin',
    });
  });

  it("takes every output the deployment has (infra/main.bicep's, one list kept in two places)", () => {
    const bicep = readFileSync(resolve(__dirname, '../../../infra/main.bicep'), 'utf8');
    const outputs = [...bicep.matchAll(/^output (\w+) /gm)].map((m) => m[1]!);
    assert.ok(outputs.length >= 16, outputs.join(', '));
    const fromFile = Object.fromEntries(outputs.map((o) => [o, 'x']));
    assert.deepEqual(Object.keys(mergeAzdEnv({}, fromFile)).sort(), [...outputs].sort());
  });

  it("storage named in the environment (a local Azurite): none of the file's queue or store settings", () => {
    const merged = mergeAzdEnv(
      { AzureWebJobsStorage: 'UseDevelopmentStorage=true' },
      {
        COMMAND_QUEUE_URL: 'https://st1.queue.core.windows.net/commands',
        AzureWebJobsStorage__accountName: 'st1',
        COMMAND_QUEUE_NAME: 'commands',
        DELIVERY_TABLE_NAME: 'ledger',
        CLUSTER_IDS: '[]',
      },
    );
    assert.deepEqual(merged, { AzureWebJobsStorage: 'UseDevelopmentStorage=true', CLUSTER_IDS: '[]' });
  });

  it('-g/-n: the subscription from the flag, AZURE_SUBSCRIPTION_ID, or az; usage errors otherwise', () => {
    const id = (sub: string, name = 'aks') =>
      `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/${name}`;
    const noAz = () => undefined;
    assert.deepEqual(clustersFromFlags({ resourceGroup: 'rg', name: ['aks'], subscription: SUB }, {}, noAz), [id(SUB)]);
    assert.deepEqual(
      clustersFromFlags({ resourceGroup: 'rg', name: ['aks', 'b'] }, { AZURE_SUBSCRIPTION_ID: SUB }, noAz),
      [id(SUB), id(SUB, 'b')],
    );
    const asked: string[][] = [];
    const az = (args: string[]) => (asked.push(args), SUB.toUpperCase());
    assert.deepEqual(clustersFromFlags({ resourceGroup: 'rg', name: ['aks'] }, {}, az), [id(SUB)]);
    assert.deepEqual(clustersFromFlags({ resourceGroup: 'rg', name: ['aks'], subscription: 'Prod Platform' }, {}, az), [
      id(SUB),
    ]);
    assert.deepEqual(asked, [
      ['account', 'show', '--query', 'id', '-o', 'tsv'],
      ['account', 'show', '--subscription', 'Prod Platform', '--query', 'id', '-o', 'tsv'],
    ]);
    assert.deepEqual(clustersFromFlags({ cluster: [id(SUB)] }, {}, noAz), [id(SUB)]);
    for (const [flags, why] of [
      [{ resourceGroup: 'rg' }, /go together/],
      [{ name: ['aks'] }, /go together/],
      [{ cluster: [id(SUB)], resourceGroup: 'rg', name: ['aks'] }, /not both/],
      [{ cluster: [id(SUB)], subscription: SUB }, /--subscription goes with/],
      [{ resourceGroup: 'rg', name: ['aks'] }, /no subscription/],
      [{ resourceGroup: 'rg', name: ['bad name!'], subscription: SUB }, /not a valid managed cluster name/],
    ] as const)
      assert.throws(() => clustersFromFlags(flags as never, {}, noAz), why);
  });
});
