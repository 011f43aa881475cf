// `run --wait` on a fleet: every started member followed here with the notifier's schedule, each to its own
// deadline, all within the caller's read budget per subscription (a 429 slows that subscription's members),
// with a progress line on stderr whenever the counts change.
import type { CommandResultReader } from '../arm/commandResults';
import type { CallerSettings } from '../config';
import { describeRead, type ArmRead } from '../core/armAnswer';
import { subscriptionKey } from '../core/cluster';
import { progressKey, progressLine } from '../core/groupWords';
import { finalAnswer, timedOutAnswer } from '../core/report';
import { CALLER_READ_RATE, pollDelaySeconds, pollWindow } from '../core/schedule';
import { TokenBuckets } from '../core/tokenBucket';
import type { FleetMember } from './fleetMember';
import { fleetReport } from './fleetReport';
import type { Io } from './io';

/** Follows every started member with the notifier's schedule, each to its own deadline, within the caller's read budget. */
export async function followFleet(
  reader: CommandResultReader,
  settings: CallerSettings,
  members: FleetMember[],
  io: Io,
): Promise<'done' | 'interrupted'> {
  const nap = io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const budget = new TokenBuckets(CALLER_READ_RATE);
  let stop = false;
  void io.interrupted?.then(() => (stop = true));
  const state = members
    .filter((m) => m.start === 'started' && m.commandId)
    .map((m) => ({
      m,
      dueAt: m.startedAtMs!,
      deadline: pollWindow({ nowMs: m.startedAtMs!, timeoutMinutes: settings.poll.timeoutMinutes }).deadlineMs,
      lastDelay: undefined as number | undefined,
      slotPaid: false,
    }));
  let shown = '';
  for (;;) {
    const open = state.filter((s) => !s.m.answer);
    if (open.length === 0 || stop) break;
    const now = Date.now();
    const due = open.filter((s) => s.dueAt <= now);
    await Promise.all(
      due.map(async (s) => {
        // A slot beyond the burst is paid for when it is given: come back at it and read, without taking again
        // (taking at every return would put each member further back, and none would ever read).
        if (!s.slotPaid) {
          const wait = await budget.take(subscriptionKey(s.m.cluster), Date.now());
          if (wait > 0) {
            s.slotPaid = true;
            s.dueAt = Date.now() + wait;
            return;
          }
        }
        s.slotPaid = false;
        const answer: ArmRead = await reader.read(s.m.cluster, s.m.commandId!);
        const waitedSeconds = (Date.now() - s.m.startedAtMs!) / 1000;
        if (answer.kind === 'transient' && answer.status === 429 && answer.retryAfterSeconds)
          budget.refused(subscriptionKey(s.m.cluster), answer.retryAfterSeconds, Date.now());
        const final = finalAnswer(answer);
        if (final || Date.now() >= s.deadline) {
          s.m.answer = final ?? timedOutAnswer(answer);
          s.m.waitedSeconds = waitedSeconds;
          return;
        }
        const delay = pollDelaySeconds(settings.poll, answer, {
          elapsedSeconds: waitedSeconds,
          remainingSeconds: Math.max(1, (s.deadline - Date.now()) / 1000),
          random: Math.random(),
          ...(s.lastDelay !== undefined ? { lastDelaySeconds: s.lastDelay } : {}),
        });
        s.lastDelay = delay;
        s.dueAt = Date.now() + delay * 1000;
        if (answer.kind === 'transient') io.err(`${s.m.cluster.resourceName}: ${describeRead(answer)}`);
      }),
    );
    const report = fleetReport('', members, undefined, false);
    if (progressKey(report) !== shown) {
      shown = progressKey(report);
      io.err(progressLine(report));
    }
    const left = state.filter((s) => !s.m.answer);
    if (left.length === 0) break;
    const soonest = Math.min(...left.map((s) => s.dueAt));
    await Promise.race([nap(Math.max(50, soonest - Date.now())), io.interrupted ?? new Promise(() => undefined)]);
  }
  return stop ? 'interrupted' : 'done';
}
