// The deployable itself: `npm run package` builds the zip of exactly what its rules let in (and the same
// files unpacked, which azd deploys); the zip is
// unpacked into an empty folder with no node_modules, loaded as the host would (index.js registers,
// handler.js loads on the first message), and runs a message end to end against the stand-ins. If the zip
// lacked anything the app loads, this would fail.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { buildAll } from '../../scripts/build';
import { PACKAGE_RULES, writePackage } from '../../scripts/package';
import { CLUSTER, CLUSTER_ID, commandId, harness, setUpStack, stack, tearDownStack } from '../support/stack';

const ROOT = resolve(__dirname, '../..');
// The project's files that the package is made from, built in a folder of this test's own (another test
// file may be building at the same moment), with the same build and package functions as npm run package.
let work: string | undefined;
let zipPath: string;
let app: string;

before(async () => {
  await setUpStack();
  work = mkdtempSync(join(tmpdir(), 'package-'));
  for (const f of ['host.json', 'package.json']) writeFileSync(join(work, f), readFileSync(join(ROOT, f)));
  await buildAll(work);
  zipPath = join(work, 'dist', 'notifier.zip');
  writePackage(work, zipPath);
  app = mkdtempSync(join(tmpdir(), 'deployed-'));
  for (const [name, bytes] of Object.entries(unzipSync(readFileSync(zipPath)))) {
    mkdirSync(dirname(join(app, name)), { recursive: true });
    writeFileSync(join(app, name), bytes);
  }
});
after(async () => {
  for (const dir of [app, work]) if (dir) rmSync(dir, { recursive: true, force: true });
  await tearDownStack();
});

function runIn(
  dir: string,
  script: string,
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  // Async: the stand-ins live in this process and must keep answering.
  return new Promise((done) => {
    const child = spawn(process.execPath, ['-e', script], { cwd: dir, env: { ...process.env, ...env, NODE_PATH: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => done({ status, stdout, stderr }));
  });
}

describe('deployable package', () => {
  it('holds exactly host.json, package.json and the bundles, and nothing else', () => {
    const names = Object.keys(unzipSync(readFileSync(zipPath))).sort();
    assert.deepEqual(names, [
      'dist/function/handler.js',
      'dist/function/index.js',
      'dist/function/slack-sdk.js',
      'dist/function/teams-sdk.js',
      'dist/function/telemetry.js',
      'host.json',
      'package.json',
    ]);
    assert.ok(!existsSync(join(app, 'node_modules')));
    // azd deploys the same files, unpacked (azure.yaml: dist), byte for byte.
    const unpacked = join(work!, 'dist', 'package');
    for (const name of names) assert.deepEqual(readFileSync(join(unpacked, name)), readFileSync(join(app, name)), name);
    assert.deepEqual(
      readdirSync(unpacked, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length,
      names.length,
    );
    const index = readFileSync(join(app, 'dist/function/index.js'), 'utf8');
    assert.ok(
      /import\("\.\/handler\.js"\)|require\("\.\/handler\.js"\)/.test(index),
      'the handler is loaded lazily from handler.js',
    );
    assert.ok(
      !/ManagedIdentityCredential|QueueServiceClient|TableClient|BlobServiceClient|msal/i.test(index),
      'no SDK in the start-up file',
    );
    // The channels' SDKs (Slack's Web API, the Teams SDK and its axios) are for sends: bundles of their own.
    const handler = readFileSync(join(app, 'dist/function/handler.js'), 'utf8');
    for (const [file, text] of [
      ['index.js', index],
      ['handler.js', handler],
    ] as const)
      assert.ok(!/AxiosError|admin\.apps\.approve/.test(text), `no channel SDK in ${file}`);
    assert.ok(
      /AxiosError/.test(readFileSync(join(app, 'dist/function/teams-sdk.js'), 'utf8')),
      'the Teams SDK has a bundle of its own',
    );
    assert.match(index, /cleanLedger/, 'the retention timer is registered');
  });

  it('unpacked into an empty folder, runs a message end to end', async () => {
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, {
      result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'from the package' },
    });
    const script = `
      const { trackCommand } = require('./dist/function/index.js');
      const log = () => {};
      const context = { invocationId: 'x', functionName: 'trackCommand', triggerMetadata: { dequeueCount: 1, id: 'pkg-1' }, log, warn: log, error: (...a) => console.error(...a) };
      trackCommand(${JSON.stringify(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }))}, context)
        .then((r) => { console.log(JSON.stringify(r)); })
        .catch((e) => { console.error(e); process.exit(1); });`;
    const r = await runIn(app, script, h.env);
    assert.equal(r.status, 0, r.stderr);
    const outcome = JSON.parse(r.stdout.trim().split('\n').pop()!) as { kind: string; outcome: string };
    assert.deepEqual([outcome.kind, outcome.outcome], ['notified', 'succeeded']);
    assert.equal(stack().receivers.for('slack', h.channel).length, 1);
    assert.match(JSON.stringify(stack().receivers.for('teams', h.channel)[0]!.body), /from the package/);
  });

  it('unpacked, posts through the app channels, each loading its SDK from its own bundle', async () => {
    const s = stack();
    const teamsChannel = `19:${'b'.repeat(32)}@thread.tacv2`;
    s.bot.addChannel(teamsChannel);
    const token = 'xoxb-package-0000-0000000000';
    const slackChannel = 'C0PACKAGE01';
    s.slackApi.addBot(token, [slackChannel]);
    const h = await harness({
      SLACK_WEBHOOK_URL: '',
      TEAMS_WEBHOOK_URL: '',
      NOTIFY_TARGETS: 'tapp,sapp',
      NOTIFY_TARGET_TAPP_KIND: 'teams-app',
      NOTIFY_TARGET_TAPP_CHANNEL: teamsChannel,
      NOTIFY_TARGET_TAPP_SERVICE_URL: s.bot.url,
      NOTIFY_TARGET_SAPP_KIND: 'slack-app',
      NOTIFY_TARGET_SAPP_CHANNEL: slackChannel,
      NOTIFY_TARGET_SAPP_TOKEN: token,
    });
    const id = commandId();
    s.arm.addCommand(CLUSTER, id, {
      result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'from the package' },
    });
    const script = `
      const { trackCommand } = require('./dist/function/index.js');
      const log = () => {};
      const context = { invocationId: 'x', functionName: 'trackCommand', triggerMetadata: { dequeueCount: 1, id: 'pkg-3' }, log, warn: (...a) => console.error(...a), error: (...a) => console.error(...a) };
      trackCommand(${JSON.stringify(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }))}, context)
        .then((r) => { console.log(JSON.stringify(r)); })
        .catch((e) => { console.error(e); process.exit(1); });`;
    const r = await runIn(app, script, h.env);
    assert.equal(r.status, 0, r.stderr);
    const outcome = JSON.parse(r.stdout.trim().split('\n').pop()!) as { kind: string };
    assert.equal(outcome.kind, 'notified', r.stderr);
    assert.equal(s.bot.inChannel(teamsChannel).length, 1, 'a Teams card');
    assert.equal(s.slackApi.inChannel(slackChannel).length, 1, 'a Slack message');
  });

  it('exports its metrics and one span per message to Application Insights, with an Entra token, and no secret', async () => {
    const h = await harness();
    const ai = stack().appInsights;
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 3, logs: 'telemetry' } });
    const script = `
      const { trackCommand } = require('./dist/function/index.js');
      const log = () => {};
      const context = { invocationId: 'x', functionName: 'trackCommand', triggerMetadata: { dequeueCount: 1, id: 'pkg-2' }, log, warn: log, error: (...a) => console.error(...a) };
      trackCommand(${JSON.stringify(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id, command: 'kubectl get pods' }))}, context)
        .then(async (r) => {
          console.log(JSON.stringify(r));
          await globalThis[Symbol.for('aks-command-notifier.telemetry')].shutdown();
        })
        .catch((e) => { console.error(e); process.exit(1); });`;
    const before = ai.envelopes.length;
    const r = await runIn(app, script, {
      ...h.env,
      APPLICATIONINSIGHTS_CONNECTION_STRING: ai.connectionString,
      APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
      APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(app, 'dist/function/telemetry.js')), 'the telemetry bundle is in the package');
    const sent = ai.envelopes.slice(before);
    assert.equal(ai.refused, 0, 'every request carried a valid Entra token');
    const metricNames = sent
      .filter((e) => e.data?.baseType === 'MetricData')
      .flatMap((e) => ((e.data!.baseData!.metrics as { name: string }[]) ?? []).map((m) => m.name));
    for (const name of [
      'aksnotifier.commands.tracked',
      'aksnotifier.polls',
      'aksnotifier.commands.finished',
      'aksnotifier.deliveries',
      'aksnotifier.notification.lag',
    ]) {
      assert.ok(metricNames.includes(name), `${name} exported (got ${[...new Set(metricNames)].join(', ')})`);
    }
    const span = sent.find((e) => e.data?.baseType === 'RequestData' && JSON.stringify(e).includes(id));
    assert.ok(span, `a request for the message's span (got ${sent.map((e) => e.data?.baseType).join(', ')})`);
    const props = (span.data!.baseData!.properties ?? {}) as Record<string, string>;
    assert.deepEqual(
      [props['aks.command_id'], props['aks.result'], props['messaging.message.id']],
      [id, 'exitCode', 'pkg-2'],
    );
    // Each delivery is a trace record of the span (the lag percentiles query in docs/operations.md reads these).
    const deliveries = sent.filter(
      (e) => e.data?.baseType === 'MessageData' && e.data.baseData?.message === 'delivery',
    );
    assert.deepEqual(
      deliveries.map((e) => (e.data!.baseData!.properties as Record<string, string>)['aks.target']).sort(),
      ['slack', 'teams'],
    );
    assert.ok(
      deliveries.every(
        (e) => Number((e.data!.baseData!.properties as Record<string, string>)['aks.delivery.lag_ms']) >= 0,
      ),
    );
    const secrets = [
      ...stack().identity.tokens.keys(),
      stack().identity.header,
      h.env.SLACK_WEBHOOK_URL!,
      h.env.TEAMS_WEBHOOK_URL!,
      'kubectl get pods',
    ];
    for (const body of ai.bodies)
      for (const secret of secrets) assert.ok(!body.includes(secret), `telemetry carries ${secret.slice(0, 20)}…`);
  });

  it('reports an unresolved Key Vault reference at start-up, naming the setting', () => {
    const r = spawnSync(process.execPath, ['-e', "require('./dist/function/index.js')"], {
      cwd: app,
      env: {
        ...process.env,
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        SLACK_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/slack/)',
      },
      encoding: 'utf8',
    });
    assert.match(r.stderr, /invalid setting SLACK_WEBHOOK_URL: is an unresolved Key Vault reference/);
    assert.ok(!r.stderr.includes('kv.vault.azure.net'));
  });

  it('fails to package when the rules leave out a bundle the app loads', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'pkgcheck-'));
    try {
      for (const f of ['host.json', 'package.json', 'dist/function/index.js', 'dist/function/handler.js']) {
        mkdirSync(dirname(join(copy, f)), { recursive: true });
        writeFileSync(join(copy, f), readFileSync(join(work!, f)));
      }
      const rules = PACKAGE_RULES.map((r) => (r === '!dist/function/*.js' ? '!dist/function/index.js' : r));
      assert.notDeepEqual(rules, PACKAGE_RULES);
      assert.throws(
        () => writePackage(copy, join(copy, 'out.zip'), join(copy, 'unpacked'), rules),
        /leave out files the app loads: dist\/function\/handler\.js/,
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
