// The Functions host's queue trigger, emulated: what the host does around the handler, so that the
// `worker` command (src/cli/runWorker.ts) runs the same handler with the same semantics outside Azure:
// batches of batchSize fetched when at most newBatchThreshold are in flight, each message kept invisible
// (and renewed) while it runs, deleted on success, released after visibilityTimeout on a throw, moved to
// <queue>-poison once its dequeue count reaches maxDequeueCount, and a grace period at shutdown. It ships in
// the CLI with the worker command; in Azure the host itself does this.
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import type { Log } from '../log';
import type { QueueHostSettings } from '../hostSettings';

type QueueHandler = (message: unknown, context: InvocationContext) => Promise<unknown>;

export interface QueueHostEmulatorOptions extends QueueHostSettings {
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

export interface QueueHostEmulatorStats {
  received: number;
  /** The handler returned: the message was deleted. */
  succeeded: number;
  /** The handler threw: the message was released for a retry. */
  failed: number;
  /** Moved to the poison queue after maxDequeueCount. */
  poisoned: number;
  /** Handed back unprocessed at shutdown. */
  returned: number;
  /** A settling call (delete, release) that the queue refused: the message comes back on its own. */
  unsettled: number;
}

const MIN_POLL_MS = 100;

/**
 * One received message and every queue operation on it, run one after another: a renewal never overlaps
 * the delete or release that settles the message, and each uses the pop receipt the previous one returned.
 */
class Lease {
  popReceipt: string;
  settled = false;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly queue: QueueClient,
    readonly message: DequeuedMessageItem,
    private readonly log: Log,
  ) {
    this.popReceipt = message.popReceipt;
  }

  /** Runs `op` after every earlier operation on this message, with the current pop receipt. */
  private run<T>(op: (popReceipt: string) => Promise<T>): Promise<T> {
    const next = this.chain.then(() => op(this.popReceipt));
    this.chain = next.catch(() => undefined);
    return next;
  }

  renewEvery(leaseSeconds: number): void {
    this.timer = setInterval(
      () => {
        if (this.settled) return;
        void this.run(async (receipt) => {
          if (this.settled) return;
          const r = await this.queue.updateMessage(this.message.messageId, receipt, undefined, leaseSeconds);
          if (r.popReceipt) this.popReceipt = r.popReceipt;
        }).catch((err: unknown) =>
          this.log.warn(`worker: could not extend message ${this.message.messageId}: ${(err as Error).message}`),
        );
      },
      (leaseSeconds * 1000) / 2,
    );
  }

  /** Stops renewing, waits for a renewal in flight, then settles with the receipt it left. */
  settle(op: (messageId: string, popReceipt: string) => Promise<unknown>): Promise<unknown> {
    this.settled = true;
    clearInterval(this.timer);
    return this.run((receipt) => op(this.message.messageId, receipt));
  }
}

export class QueueHostEmulator {
  readonly stats: QueueHostEmulatorStats = {
    received: 0,
    succeeded: 0,
    failed: 0,
    poisoned: 0,
    returned: 0,
    unsettled: 0,
  };
  private readonly inFlight = new Map<string, { done: Promise<void>; release: () => Promise<void> }>();
  private stopping = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: QueueHostEmulatorOptions) {}

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
        const res = await o.queue.receiveMessages({
          numberOfMessages: Math.min(32, o.batchSize),
          visibilityTimeout: o.leaseSeconds,
        });
        messages = res.receivedMessageItems;
      } catch (err) {
        o.log.warn(`worker: receive failed: ${(err as Error).message}`);
        await this.sleep(Math.min(o.maxPollingIntervalMs, 2000));
        continue;
      }
      this.stats.received += messages.length;
      if (this.stopping) {
        // Received after stop was asked: hand them straight back.
        await Promise.allSettled(messages.map((m) => o.queue.updateMessage(m.messageId, m.popReceipt, undefined, 0)));
        this.stats.returned += messages.length;
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
    const o = this.options;
    const lease = new Lease(o.queue, message, o.log);
    lease.renewEvery(o.leaseSeconds);
    const release = async () => {
      if (lease.settled) return;
      this.stats.returned++;
      await lease.settle((id, receipt) => o.queue.updateMessage(id, receipt, undefined, 0)).catch(() => undefined);
    };
    const done = this.process(message, lease)
      .catch((err: unknown) => {
        this.stats.unsettled++;
        o.log.error(`worker: message ${message.messageId}: ${(err as Error).message}`);
      })
      .finally(() => {
        lease.settle(async () => undefined).catch(() => undefined);
        this.inFlight.delete(message.messageId);
      });
    this.inFlight.set(message.messageId, { done, release });
  }

  private poisonReady: Promise<unknown> | undefined;

  private async moveToPoison(lease: Lease): Promise<void> {
    // Once per process, as the host does when it first needs the poison queue.
    this.poisonReady ??= this.options.poison.createIfNotExists().catch((err: unknown) => {
      this.poisonReady = undefined;
      throw err;
    });
    await this.poisonReady;
    await this.options.poison.sendMessage(lease.message.messageText, { messageTimeToLive: -1 });
    await lease.settle((id, receipt) => this.options.queue.deleteMessage(id, receipt));
    this.stats.poisoned++;
  }

  private async process(message: DequeuedMessageItem, lease: Lease): Promise<void> {
    const o = this.options;
    if (message.dequeueCount > o.maxDequeueCount) {
      // It already failed (or killed its worker) too often: the host would not run it again.
      o.log.error(
        `worker: message ${message.messageId} dequeued ${message.dequeueCount} times: moved to ${o.poison.name}`,
      );
      await this.moveToPoison(lease);
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
      functionName: o.functionName ?? 'trackCommand',
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
        const line = args
          .map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a)))
          .join(' ');
        if (level === 'error' || level === 'critical') o.log.error(line);
        else if (level === 'warning') o.log.warn(line);
        else o.log.info(line);
      },
    });
    try {
      await o.handler(value, context);
    } catch {
      if (lease.settled) return;
      this.stats.failed++;
      if (message.dequeueCount >= o.maxDequeueCount) {
        o.log.error(
          `worker: message ${message.messageId} failed ${message.dequeueCount} times: moved to ${o.poison.name}`,
        );
        await this.moveToPoison(lease);
      } else {
        await lease.settle((id, receipt) => o.queue.updateMessage(id, receipt, undefined, o.visibilityTimeoutSeconds));
      }
      return;
    }
    if (lease.settled) return;
    await lease.settle((id, receipt) => o.queue.deleteMessage(id, receipt));
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
      this.options.log.warn(
        `worker: ${left.length} message(s) still running after the grace period: returned to the queue`,
      );
      await Promise.all(left.map((r) => r.release()));
    }
  }
}
