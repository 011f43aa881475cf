// The app's own telemetry, on the OpenTelemetry API alone (no SDK here: the SDK and the Azure Monitor
// exporter load lazily, in telemetry/setup.ts, only where they are configured). Names are a contract with
// the alert rules in infra/ and the KQL in docs/operations.md.
import { SpanKind, SpanStatusCode, type Attributes, type Meter, type Span, type Tracer } from '@opentelemetry/api';

export const METRICS = {
  /** A command seen for the first time (its ledger row was created). */
  commandsTracked: 'aksnotifier.commands.tracked',
  /** A final answer stored, by outcome. */
  commandsFinished: 'aksnotifier.commands.finished',
  /** ARM reads, by the class of the answer. */
  polls: 'aksnotifier.polls',
  /** Seconds from the command's finishedAt to the channel's acceptance, by target. */
  notificationLag: 'aksnotifier.notification.lag',
  /** Delivery attempts' outcomes, by target, status and form. */
  deliveries: 'aksnotifier.deliveries',
  /** Deliberate re-enqueues that are not polls of a running command, by reason. */
  deferrals: 'aksnotifier.deferrals',
  /** Messages moved to the poison queue by the app, by reason. */
  poisoned: 'aksnotifier.poisoned',
  /** Polls that took a later slot instead of reading ARM. */
  readBudgetDeferrals: 'aksnotifier.arm.read_budget.deferrals',
  /** Seconds an ARM read came after its poll was due (a read budget slot, a busy host), by budget state. */
  readWait: 'aksnotifier.arm.read_wait',
  /** Channel posts given a later slot by the channel's pace. */
  paceDeferrals: 'aksnotifier.pace.deferrals',
  /** The app's shared budgets, by event: a lease written, an ETag conflict, a fallback to the local share, slots leased ahead unused. */
  budgetLeases: 'aksnotifier.budget.leases',
  /** Messages in a queue (approximate), by queue: the command queue or its poison queue. */
  queueMessages: 'aksnotifier.queue.messages',
  /** Age in seconds of the oldest visible message, by queue (backlog). */
  queueOldestAge: 'aksnotifier.queue.oldest_age',
} as const;

export type ArmAnswerClass = '202' | '200' | '401/403' | '404' | '429' | '5xx' | 'network' | 'other';
export type PoisonReason =
  | 'invalid-message'
  | 'unknown-target'
  | 'out-of-scope'
  | 'contradicts-ledger'
  | 'no-target'
  | 'delivery-deadline'
  | 'store-unavailable'
  | 'store-rejected';
type DeferralReason = 'read-budget' | 'delivery' | 'store-unavailable';

/** What a message span records, attribute by attribute (never a secret: ids, names, counts, outcomes). */
export interface MessageSpan {
  set(attributes: Attributes): void;
  /** One event per delivery: KQL computes lag percentiles from these (one record each). */
  delivery(attributes: { target: string; status: string; form?: string; lagMs?: number }): void;
}

export interface Telemetry {
  commandTracked(): void;
  commandFinished(outcome: string): void;
  poll(answer: ArmAnswerClass): void;
  delivery(target: string, status: string, form?: string, lagMs?: number): void;
  deferral(reason: DeferralReason): void;
  poisoned(reason: PoisonReason): void;
  readBudgetDeferral(): void;
  readWait(pastDueSeconds: number): void;
  paceDeferral(target: string): void;
  budgetLease(event: 'lease' | 'conflict' | 'fallback' | 'unused', slots?: number): void;
  queue(queue: 'main' | 'poison', messages: number, oldestAgeSeconds?: number): void;
  /** Runs `fn` inside the message's span (a consumer span: one per queue message). */
  messageSpan<T>(name: string, attributes: Attributes, fn: (span: MessageSpan) => Promise<T>): Promise<T>;
}

const noSpan: MessageSpan = { set: () => undefined, delivery: () => undefined };

export const noTelemetry: Telemetry = {
  commandTracked: () => undefined,
  commandFinished: () => undefined,
  poll: () => undefined,
  delivery: () => undefined,
  deferral: () => undefined,
  poisoned: () => undefined,
  readBudgetDeferral: () => undefined,
  readWait: () => undefined,
  paceDeferral: () => undefined,
  budgetLease: () => undefined,
  queue: () => undefined,
  messageSpan: (_n, _a, fn) => fn(noSpan),
};

export function createTelemetry(meter: Meter, tracer: Tracer): Telemetry {
  const tracked = meter.createCounter(METRICS.commandsTracked, { description: 'Commands seen for the first time' });
  const finished = meter.createCounter(METRICS.commandsFinished, { description: 'Final answers stored, by outcome' });
  const polls = meter.createCounter(METRICS.polls, { description: 'ARM reads, by answer class' });
  const lag = meter.createHistogram(METRICS.notificationLag, {
    description: 'Seconds from finishedAt to delivery, by target',
    unit: 's',
    advice: { explicitBucketBoundaries: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600] },
  });
  const deliveries = meter.createCounter(METRICS.deliveries, {
    description: 'Delivery outcomes, by target, status and form',
  });
  const deferrals = meter.createCounter(METRICS.deferrals, {
    description: 'Deliberate re-enqueues other than polls, by reason',
  });
  const poisoned = meter.createCounter(METRICS.poisoned, {
    description: 'Messages the app moved to the poison queue, by reason',
  });
  const budget = meter.createCounter(METRICS.readBudgetDeferrals, {
    description: 'Polls deferred by the ARM read budget',
  });
  const readWait = meter.createHistogram(METRICS.readWait, {
    description: 'Seconds an ARM read came after its poll was due',
    unit: 's',
    advice: { explicitBucketBoundaries: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600] },
  });
  const paced = meter.createCounter(METRICS.paceDeferrals, { description: 'Posts deferred by a channel pace' });
  const leases = meter.createCounter(METRICS.budgetLeases, {
    description: 'Leases of the shared budgets: written, lost to another writer, or a fallback to the local share',
  });
  const depth = meter.createGauge(METRICS.queueMessages, { description: 'Approximate messages in the queue' });
  const age = meter.createGauge(METRICS.queueOldestAge, {
    description: 'Age of the oldest visible message',
    unit: 's',
  });
  return {
    commandTracked: () => tracked.add(1),
    commandFinished: (outcome) => finished.add(1, { outcome }),
    poll: (answer) => polls.add(1, { answer }),
    delivery: (target, status, form, lagMs) => {
      deliveries.add(1, { target, status, ...(form ? { form } : {}) });
      if (lagMs !== undefined && status === 'delivered') lag.record(lagMs / 1000, { target });
    },
    deferral: (reason) => deferrals.add(1, { reason }),
    poisoned: (reason) => poisoned.add(1, { reason }),
    readBudgetDeferral: () => budget.add(1),
    readWait: (seconds) => readWait.record(seconds),
    paceDeferral: (target) => paced.add(1, { target }),
    budgetLease: (event, slots = 1) => leases.add(event === 'unused' ? slots : 1, { event }),
    queue: (queue, messages, oldestAgeSeconds) => {
      depth.record(messages, { queue });
      if (oldestAgeSeconds !== undefined) age.record(oldestAgeSeconds, { queue });
    },
    messageSpan: (name, attributes, fn) =>
      tracer.startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes }, async (span: Span) => {
        const handle: MessageSpan = {
          set: (a) => span.setAttributes(a),
          delivery: (a) =>
            span.addEvent('delivery', {
              'aks.target': a.target,
              'aks.delivery.status': a.status,
              ...(a.form ? { 'aks.delivery.form': a.form } : {}),
              ...(a.lagMs !== undefined ? { 'aks.delivery.lag_ms': Math.round(a.lagMs) } : {}),
            }),
        };
        try {
          const result = await fn(handle);
          span.setStatus({ code: SpanStatusCode.OK });
          return result;
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name });
          throw err;
        } finally {
          span.end();
        }
      }),
  };
}

/** The class of an ARM answer, as the metric and the alerts name it. */
export function armAnswerClass(answer: { kind: string; status?: number }): ArmAnswerClass {
  switch (answer.kind) {
    case 'running':
      return '202';
    case 'finished':
      return '200';
    case 'forbidden':
      return '401/403';
    case 'notFound':
      return '404';
    case 'transient':
      return answer.status === 429
        ? '429'
        : answer.status !== undefined && answer.status >= 500
          ? '5xx'
          : answer.status === undefined
            ? 'network'
            : 'other';
    default:
      return 'other';
  }
}
