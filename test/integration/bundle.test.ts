// The deployable itself: build it, load it as the host would (index.js registers, handler.js loads on
// the first message), and run a message through the bundled handler against the stand-ins.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLUSTER, CLUSTER_ID, commandId, harness, setUpStack, stack, tearDownStack } from '../support/stack';

const ROOT = resolve(__dirname, '../..');

before(async () => {
  await setUpStack();
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { cwd: ROOT, stdio: 'inherit' });
});
after(tearDownStack);

describe('deployable bundle', () => {
  it('registers without loading the SDKs, and the bundled handler runs a poll end to end', async () => {
    const index = readFileSync(resolve(ROOT, 'dist/function/index.js'), 'utf8');
    assert.ok(/import\("\.\/handler\.js"\)|require\("\.\/handler\.js"\)/.test(index), 'the handler is loaded lazily from handler.js');
    assert.ok(!/ManagedIdentityCredential|QueueServiceClient|TableClient|BlobServiceClient|msal/i.test(index), 'no SDK in the start-up file');
    assert.match(index, /cleanLedger/, 'the retention timer is registered');
    const h = await harness();
    const id = commandId();
    stack().arm.addCommand(CLUSTER, id, { result: { provisioningState: 'Succeeded', exitCode: 0, logs: 'from the bundle' } });
    const script = `
      const { pollCommandResult } = require('./dist/function/index.js');
      const { InvocationContext } = require('@azure/functions');
      const ctx = new InvocationContext({ functionName: 'pollCommandResult', triggerMetadata: { dequeueCount: 1 }, logHandler: () => {} });
      pollCommandResult(${JSON.stringify(JSON.stringify({ clusterResourceId: CLUSTER_ID, commandId: id }))}, ctx)
        .then((r) => { console.log(JSON.stringify(r)); })
        .catch((e) => { console.error(e); process.exit(1); });`;
    // Async: the stand-ins live in this process and must keep answering.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, ...h.env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (status) => done({ status, stdout, stderr }));
    });
    assert.equal(r.status, 0, r.stderr);
    const outcome = JSON.parse(r.stdout.trim().split('\n').pop()!) as { kind: string; outcome: string };
    assert.deepEqual([outcome.kind, outcome.outcome], ['notified', 'succeeded']);
    assert.equal(stack().receivers.for('slack', h.channel).length, 1);
  });

  it('reports an unresolved Key Vault reference at start-up, naming the setting', () => {
    const r = spawnSync(process.execPath, ['-e', "require('./dist/function/index.js')"], {
      cwd: ROOT,
      env: { ...process.env, AzureWebJobsStorage: 'UseDevelopmentStorage=true', SLACK_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/slack/)' },
      encoding: 'utf8',
    });
    assert.match(r.stderr, /invalid setting SLACK_WEBHOOK_URL: is an unresolved Key Vault reference/);
    assert.ok(!r.stderr.includes('kv.vault.azure.net'));
  });
});
