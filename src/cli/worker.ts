// Runs the queue-triggered handler outside the Functions host, with the host's queue semantics:
// batches of batchSize fetched when at most newBatchThreshold are in flight, each message kept
// invisible (and renewed) while it runs, deleted on success, released after visibilityTimeout on a
// throw, moved to <queue>-poison once its dequeue count reaches maxDequeueCount. For local development
// and tests; in Azure the host does this.
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import type { Log } from '../log';
import type { QueueHostSettings } from './hostSettings';

export type QueueHandler = (message: unknown, context: InvocationContext) => Promise<unknown>;

export interface WorkerOptions extends QueueHostSettings {
  queue: QueueClient;
  poison: QueueClient;
  handler: QueueHandler;
  functionName?: string;
  /** How long a received message stays invisible while it runs; renewed at half of it. */
  leaseSeconds: number;
  /** How long stop() waits for running messages before releasing them. */
  shutdownGraceMs: number;
  log: Log;
}

export interface WorkerStats {
  received: number;
  succeeded: number;
  failed: number;
  poisoned: number;
}

const MIN_POLL_MS = 100;

export class QueueWorker {
  readonly stats: WorkerStats = { received: 0, succeeded: 0, failed: 0, poisoned: 0 };
  private readonly inFlight = new Map<string, { done: Promise<void>; release: () => Promise<void> }>();
  private stopping = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: WorkerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  get busy(): number {
    return this.inFlight.size;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    const o = this.options;
    let idleMs = MIN_POLL_MS;
    while (!this.stopping) {
      if (this.inFlight.size > o.newBatchThreshold) {
        await Promise.race([...[...this.inFlight.values()].map((f) => f.done), this.sleep(o.maxPollingIntervalMs)]);
        continue;
      }
      let messages: DequeuedMessageItem[];
      try {
        const res = await o.queue.receiveMessages({ numberOfMessages: Math.min(32, o.batchSize), visibilityTimeout: o.leaseSeconds });
        messages = res.receivedMessageItems;
      } catch (err) {
        o.log.warn(`worker: receive failed: ${(err as Error).message}`);
        await this.sleep(Math.min(o.maxPollingIntervalMs, 2000));
        continue;
      }
      if (this.stopping) {
        // Received after stop was asked: hand them straight back.
        await Promise.allSettled(messages.map((m) => o.queue.updateMessage(m.messageId, m.popReceipt, undefined, 0)));
        break;
      }
      if (messages.length === 0) {
        await this.sleep(idleMs);
        idleMs = Math.min(idleMs * 2, o.maxPollingIntervalMs);
        continue;
      }
      idleMs = MIN_POLL_MS;
      for (const m of messages) this.track(m);
    }
  }

  private track(message: DequeuedMessageItem): void {
    this.stats.received++;
    const state = { popReceipt: message.popReceipt, settled: false };
    const o = this.options;
    const renew = setInterval(() => {
      o.queue
        .updateMessage(message.messageId, state.popReceipt, undefined, o.leaseSeconds)
        .then((r) => {
          if (r.popReceipt) state.popReceipt = r.popReceipt;
        })
        .catch((err: unknown) => o.log.warn(`worker: could not extend message ${message.messageId}: ${(err as Error).message}`));
    }, (o.leaseSeconds * 1000) / 2);
    const release = async () => {
      if (state.settled) return;
      state.settled = true;
      await o.queue.updateMessage(message.messageId, state.popReceipt, undefined, 0).catch(() => undefined);
    };
    const done = this.process(message, state)
      .catch((err: unknown) => o.log.error(`worker: message ${message.messageId}: ${(err as Error).message}`))
      .finally(() => {
        clearInterval(renew);
        this.inFlight.delete(message.messageId);
      });
    this.inFlight.set(message.messageId, { done, release });
  }

  private poisonReady: Promise<unknown> | undefined;

  private async moveToPoison(message: DequeuedMessageItem, state: { popReceipt: string }): Promise<void> {
    // Once per process, as the host does when it first needs the poison queue.
    this.poisonReady ??= this.options.poison.createIfNotExists().catch((err: unknown) => {
      this.poisonReady = undefined;
      throw err;
    });
    await this.poisonReady;
    await this.options.poison.sendMessage(message.messageText, { messageTimeToLive: -1 });
    await this.options.queue.deleteMessage(message.messageId, state.popReceipt);
    this.stats.poisoned++;
  }

  private async process(message: DequeuedMessageItem, state: { popReceipt: string; settled: boolean }): Promise<void> {
    const o = this.options;
    if (message.dequeueCount > o.maxDequeueCount) {
      // It already failed (or killed its worker) too often: the host would not run it again.
      o.log.error(`worker: message ${message.messageId} dequeued ${message.dequeueCount} times: moved to ${o.poison.name}`);
      await this.moveToPoison(message, state);
      state.settled = true;
      return;
    }
    const text = message.messageText;
    let value: unknown = text;
    if (o.messageEncoding === 'base64') value = Buffer.from(text, 'base64').toString('utf8');
    try {
      // The host hands JSON over as an object.
      value = JSON.parse(String(value));
    } catch {
      /* not JSON: pass the text */
    }
    const context = new InvocationContext({
      functionName: o.functionName ?? 'pollCommandResult',
      invocationId: randomUUID(),
      triggerMetadata: {
        id: message.messageId,
        dequeueCount: message.dequeueCount,
        insertionTime: message.insertedOn,
        expirationTime: message.expiresOn,
        nextVisibleTime: message.nextVisibleOn,
        popReceipt: message.popReceipt,
      },
      logHandler: (level, ...args) => {
        const line = args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(' ');
        if (level === 'error' || level === 'critical') o.log.error(line);
        else if (level === 'warning') o.log.warn(line);
        else o.log.info(line);
      },
    });
    try {
      await o.handler(value, context);
    } catch (err) {
      if (state.settled) return;
      state.settled = true;
      this.stats.failed++;
      if (message.dequeueCount >= o.maxDequeueCount) {
        o.log.error(`worker: message ${message.messageId} failed ${message.dequeueCount} times: moved to ${o.poison.name}`);
        await this.moveToPoison(message, state);
      } else {
        await o.queue.updateMessage(message.messageId, state.popReceipt, undefined, o.visibilityTimeoutSeconds);
      }
      return;
    }
    if (state.settled) return;
    state.settled = true;
    await o.queue.deleteMessage(message.messageId, state.popReceipt);
    this.stats.succeeded++;
  }

  /** Stops fetching, lets running messages finish within the grace period, then hands the rest back. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    const running = [...this.inFlight.values()];
    if (running.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.shutdownGraceMs);
    });
    const result = await Promise.race([Promise.all(running.map((r) => r.done)).then(() => 'done' as const), graceOver]);
    clearTimeout(timer);
    if (result === 'timeout') {
      const left = [...this.inFlight.values()];
      this.options.log.warn(`worker: ${left.length} message(s) still running after the grace period: returned to the queue`);
      await Promise.all(left.map((r) => r.release()));
    }
  }
}
