// One set of stand-ins for the whole integration run, and small helpers to drive the handler.
import { randomBytes } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import type { QueueClient } from '@azure/storage-queue';
import { startStandIns, type StandIns } from '../../dev/standIns';
import { createQueueHandler } from '../../src/pipeline/queueTrigger';
import { createRuntime, type Runtime } from '../../src/runtime';
import type { MessageOutcome } from '../../src/pipeline/context';

let current: StandIns | undefined;

export async function setUpStack(): Promise<StandIns> {
  current ??= await startStandIns({
    ...(process.env.AKS_NOTIFIER_TEST_TLS_DIR ? { tlsDir: process.env.AKS_NOTIFIER_TEST_TLS_DIR } : {}),
  });
  // The credential reads the managed identity endpoint from the process environment, as in Azure.
  Object.assign(process.env, current.identity.env);
  return current;
}

export async function tearDownStack(): Promise<void> {
  await current?.stop();
  current = undefined;
}

export function stack(): StandIns {
  if (!current) throw new Error('stand-ins not started');
  return current;
}

let counter = 0;
export function unique(prefix: string): string {
  return `${prefix}-${++counter}-${randomBytes(3).toString('hex')}`;
}
export function commandId(): string {
  return randomBytes(16).toString('hex');
}

export const CLUSTER = {
  subscriptionId: '11111111-2222-3333-4444-555555555555',
  resourceGroupName: 'rg-test',
  resourceName: 'aks-test',
};
export const CLUSTER_ID = `/subscriptions/${CLUSTER.subscriptionId}/resourceGroups/${CLUSTER.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${CLUSTER.resourceName}`;

export interface Harness {
  rt: Runtime;
  env: Record<string, string>;
  queueName: string;
  channel: string;
  logs: string[];
  main: QueueClient;
  poison: QueueClient;
  invoke(message: unknown, meta?: Record<string, unknown>): Promise<MessageOutcome>;
  /** Every re-enqueue the handler made (they also went to the queue), and when it was asked for (ms). */
  sent: { text: string; delaySeconds: number; at: number }[];
  /** Invokes the newest re-enqueued message at once, without waiting for it to become visible. */
  invokeNext(): Promise<MessageOutcome>;
  /** Receives the next visible message (waiting up to `waitMs`), runs the handler, completes it. */
  pollOnce(waitMs?: number): Promise<{ outcome: MessageOutcome; receivedAt: number; text: string } | undefined>;
}

/** An app with its own queue and its own Slack/Teams channel, so tests do not see each other. */
export async function harness(overrides: Record<string, string> = {}): Promise<Harness> {
  const s = stack();
  const queueName = unique('q');
  const channel = unique('ch');
  const env = s.env({
    COMMAND_QUEUE_NAME: queueName,
    SLACK_WEBHOOK_URL: s.receivers.urlFor('slack', channel),
    TEAMS_WEBHOOK_URL: s.receivers.urlFor('teams', channel),
    POLL_INITIAL_DELAY_SECONDS: '1',
    POLL_MAX_DELAY_SECONDS: '3',
    WEBHOOK_TIMEOUT_SECONDS: '2',
    ...overrides,
  });
  const rt = createRuntime(env);
  await rt.queue.ensureQueues();
  const sent: { text: string; delaySeconds: number; at: number }[] = [];
  const send = rt.deps.queue.send;
  rt.deps.queue.send = async (text, delaySeconds) => {
    const at = Date.now();
    await send(text, delaySeconds);
    sent.push({ text, delaySeconds, at });
  };
  const handler = createQueueHandler(() => rt);
  const logs: string[] = [];
  const invoke = (message: unknown, meta: Record<string, unknown> = {}) =>
    handler(
      message,
      new InvocationContext({
        functionName: 'trackCommand',
        invocationId: randomBytes(8).toString('hex'),
        triggerMetadata: {
          dequeueCount: 1,
          insertionTime: new Date().toISOString(),
          id: randomBytes(8).toString('hex'),
          ...meta,
        },
        logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')),
      }),
    );
  return {
    rt,
    env,
    queueName,
    channel,
    logs,
    main: rt.queue.main,
    poison: rt.queue.poison,
    invoke,
    sent,
    invokeNext: () => {
      const last = sent.at(-1);
      if (!last) throw new Error('nothing was re-enqueued');
      return invoke(last.text);
    },
    async pollOnce(waitMs = 10_000) {
      const started = Date.now();
      while (Date.now() - started < waitMs) {
        const {
          receivedMessageItems: [m],
        } = await rt.queue.main.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 30 });
        if (m) {
          const receivedAt = Date.now();
          const outcome = await invoke(JSON.parse(m.messageText), {
            dequeueCount: m.dequeueCount,
            id: m.messageId,
            insertionTime: m.insertedOn,
          });
          await rt.queue.main.deleteMessage(m.messageId, m.popReceipt);
          return { outcome, receivedAt, text: m.messageText };
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return undefined;
    },
  };
}

export async function visibleCount(queue: QueueClient): Promise<number> {
  return (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.length;
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
