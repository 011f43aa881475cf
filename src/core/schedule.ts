// When to look again. Interval = max(initial, 10% of the time already waited), capped at the max delay:
// short commands are seen within seconds, long ones cost few reads, and the notification lag stays within
// max(initial, 10% of the run time) (bench/ measures both). Jitter only shortens a delay, so that it
// spreads polls without breaking that bound; throttling and Retry-After only lengthen it, within the cap.

export interface PollSchedule {
  initialDelaySeconds: number;
  maxDelaySeconds: number;
}

export interface DelayInput {
  elapsedSeconds: number;
  /** Seconds until the deadline; the last poll lands on it. */
  remainingSeconds: number;
  retryAfterSeconds?: number;
  /** ARM throttled us (429/503): back off from the last delay. */
  throttled?: boolean;
  lastDelaySeconds?: number;
  /** In [0, 1). */
  random: number;
}

export const JITTER = 0.2;

export function baseIntervalSeconds(schedule: PollSchedule, elapsedSeconds: number): number {
  return Math.min(schedule.maxDelaySeconds, Math.max(schedule.initialDelaySeconds, 0.1 * Math.max(0, elapsedSeconds)));
}

export function nextDelaySeconds(schedule: PollSchedule, input: DelayInput): number {
  // `upper` is the delay before jitter: the lag bound holds as long as the delay never exceeds it.
  let upper = baseIntervalSeconds(schedule, input.elapsedSeconds);
  if (input.throttled) {
    upper = Math.max(upper, Math.min(schedule.maxDelaySeconds, 2 * (input.lastDelaySeconds ?? schedule.initialDelaySeconds)));
  }
  let delay = upper * (1 - JITTER * input.random);
  let honourRetryAfter = false;
  if (input.retryAfterSeconds !== undefined && input.retryAfterSeconds > delay) {
    delay = upper = Math.min(schedule.maxDelaySeconds, input.retryAfterSeconds);
    honourRetryAfter = true;
  }
  upper = Math.min(upper, input.remainingSeconds);
  delay = Math.min(delay, input.remainingSeconds);
  // Queue visibility is whole seconds: round, but never above the unjittered delay (the lag bound);
  // round up where the server asked us to wait.
  return Math.max(1, honourRetryAfter ? Math.ceil(delay) : Math.min(Math.floor(upper), Math.round(delay)));
}
