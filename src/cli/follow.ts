// Following a command's result as the caller (run --wait, result): read ARM with the notifier's schedule
// and deadline, and print the final answer as `az aks command result` does, with its exit code.
import type { CommandResultReader } from '../arm/commandResults';
import type { CallerSettings } from '../config';
import { clusterResourceId, type ClusterRef } from '../core/cluster';
import { describeRead } from '../core/armAnswer';
import { finalAnswer, formatDuration, REQUIRED_PERMISSION, timedOutAnswer, type FinalAnswer } from '../core/report';
import { pollDelaySeconds, pollWindow } from '../core/schedule';
import { cleanText } from '../core/text';
import { EXIT, type Io } from './io';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Prints a final answer as `az aks command result` does; returns the exit code it means. */
export function printResult(
  answer: FinalAnswer | { readonly kind: 'group' },
  cluster: ClusterRef,
  commandId: string,
  waitedSeconds: number,
  io: Io,
  raw = false,
): number {
  const text = (s: string) => (raw ? s : cleanText(s));
  switch (answer.kind) {
    case 'finished': {
      const r = answer.result;
      const state = r.provisioningState.toLowerCase();
      if (state === 'succeeded') {
        io.out(
          `command started at ${r.startedAt ?? '?'}, finished at ${r.finishedAt ?? '?'} with exitcode=${r.exitCode ?? 0}`,
        );
        if (r.logs) io.out(text(r.logs).replace(/\n$/, ''));
        const code = r.exitCode ?? 0;
        return code < 0 || code > 255 ? 255 : code;
      }
      io.out(
        `command ${state === 'canceled' || state === 'cancelled' ? 'was canceled' : 'failed'}${r.reason ? ` with reason: ${text(r.reason)}` : ''}`,
      );
      if (r.logs) io.out(text(r.logs).replace(/\n$/, ''));
      return EXIT.failed;
    }
    case 'timedOut':
      io.out(
        `gave up waiting after ${formatDuration(waitedSeconds)}: ${answer.last}. Follow it with: aks-command-notifier result --cluster ${clusterResourceId(cluster)} --command-id ${commandId}`,
      );
      return EXIT.gaveUp;
    case 'notFound':
      io.out(
        `the command was not found (the id may be wrong, or its result expired)${answer.error?.message ? `: ${text(answer.error.message)}` : ''}`,
      );
      return EXIT.failed;
    case 'forbidden':
      io.out(`not allowed to read the result: your identity needs ${REQUIRED_PERMISSION}`);
      return EXIT.failed;
    case 'rejected':
      io.out(`could not read the result: ${answer.detail}`);
      return EXIT.failed;
    case 'group':
      io.out('this is a fleet run: follow it with run --wait');
      return EXIT.failed;
  }
}

/** Follows a command's result with the notifier's schedule until it is final or the deadline passes. */
export async function follow(
  reader: CommandResultReader,
  settings: CallerSettings,
  cluster: ClusterRef,
  commandId: string,
  io: Io,
): Promise<{ answer: FinalAnswer; waitedSeconds: number } | 'interrupted'> {
  const started = Date.now();
  const deadline = pollWindow({ nowMs: started, timeoutMinutes: settings.poll.timeoutMinutes }).deadlineMs;
  const nap = io.sleep ?? sleep;
  let stop = false;
  void io.interrupted?.then(() => (stop = true));
  let lastDelay: number | undefined;
  for (;;) {
    const answer = await reader.read(cluster, commandId);
    const waitedSeconds = (Date.now() - started) / 1000;
    const final = finalAnswer(answer);
    if (final) return { answer: final, waitedSeconds };
    if (Date.now() >= deadline) return { answer: timedOutAnswer(answer), waitedSeconds };
    const delay = pollDelaySeconds(settings.poll, answer, {
      elapsedSeconds: waitedSeconds,
      remainingSeconds: Math.max(1, (deadline - Date.now()) / 1000),
      random: Math.random(),
      ...(lastDelay !== undefined ? { lastDelaySeconds: lastDelay } : {}),
    });
    lastDelay = delay;
    io.err(`${describeRead(answer)} after ${formatDuration(waitedSeconds)}; next look in ${delay}s`);
    await Promise.race([nap(delay * 1000), io.interrupted ?? new Promise(() => undefined)]);
    if (stop) return 'interrupted';
  }
}

export function resultJson(answer: FinalAnswer, raw = false): Record<string, unknown> {
  if (answer.kind !== 'finished')
    return { outcome: answer.kind, ...(answer.kind === 'timedOut' ? { detail: answer.last } : {}) };
  const r = answer.result;
  return {
    outcome: 'finished',
    provisioningState: r.provisioningState,
    ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
    ...(r.startedAt ? { startedAt: r.startedAt } : {}),
    ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
    ...(r.reason ? { reason: raw ? r.reason : cleanText(r.reason) } : {}),
    ...(r.logs !== undefined ? { logs: raw ? r.logs : cleanText(r.logs) } : {}),
  };
}
