// How full the queues are: Storage has no per-queue platform metric, so the app measures its own command
// queue and poison queue (approximate depth, age of the oldest visible message) and emits them as metrics.
// The backlog and poison alerts in infra/ read these; `status` prints them.
import type { Log } from '../log';
import type { CommandQueue } from '../queue/commandQueue';
import type { Telemetry } from '../telemetry/telemetry';

/** Every five minutes (NCRONTAB), for the host's timer trigger and the worker alike. */
export const MONITOR_SCHEDULE = '0 */5 * * * *';

export interface QueueDepth {
  messages: number;
  /** Age of the oldest visible message, in seconds (none visible: undefined). */
  oldestAgeSeconds?: number;
}

async function depth(queue: CommandQueue['main'], now: number): Promise<QueueDepth> {
  const [props, peeked] = await Promise.all([queue.getProperties(), queue.peekMessages({ numberOfMessages: 1 })]);
  const oldest = peeked.peekedMessageItems[0]?.insertedOn?.getTime();
  return {
    messages: props.approximateMessagesCount ?? 0,
    ...(oldest !== undefined ? { oldestAgeSeconds: Math.max(0, Math.round((now - oldest) / 1000)) } : {}),
  };
}

export async function measureQueues(
  queue: CommandQueue,
  now = Date.now(),
): Promise<{ main: QueueDepth; poison: QueueDepth }> {
  await queue.ensureQueues();
  const [main, poison] = await Promise.all([depth(queue.main, now), depth(queue.poison, now)]);
  return { main, poison };
}

export async function monitorQueues(queue: CommandQueue, telemetry: Telemetry, log: Log): Promise<void> {
  const { main, poison } = await measureQueues(queue);
  telemetry.queue('main', main.messages, main.oldestAgeSeconds ?? 0);
  telemetry.queue('poison', poison.messages, poison.oldestAgeSeconds ?? 0);
  const line = `queues: ${main.messages} message(s) waiting (oldest visible ${main.oldestAgeSeconds ?? 0}s), ${poison.messages} in poison`;
  if (poison.messages > 0)
    log.warn(`${line}: look at them, then redrive (host-moved poison messages expire after 7 days)`);
  else log.info(line);
}
