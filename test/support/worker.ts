// The `worker` CLI as a child process, as a developer runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export interface WorkerProcess {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const MAIN = resolve(__dirname, '../../src/cli/main.ts');

export function spawnWorker(env: Record<string, string>, args: string[] = []): WorkerProcess {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, 'worker', '--max-polling-interval-ms', '200', ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  for (const s of [proc.stdout!, proc.stderr!]) createInterface({ input: s }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    lines,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/**
 * A worker the fault suites SIGKILL and start again. The lines of every process and the kill times are kept
 * across restarts, for the suites' counts and their secret checks.
 */
export class RestartedWorker {
  readonly lines: string[] = [];
  readonly kills: number[] = [];
  private current: WorkerProcess;

  constructor(
    private readonly env: Record<string, string>,
    private readonly args: string[],
  ) {
    this.current = spawnWorker(env, args);
  }

  /** SIGKILL (no drain, no clean-up), wait for the exit, run `meanwhile` (e.g. restart Azurite), start a new one. */
  async kill(meanwhile?: () => Promise<void>): Promise<void> {
    this.current.proc.kill('SIGKILL');
    this.kills.push(Date.now());
    await this.current.exited;
    this.lines.push(...this.current.lines);
    await meanwhile?.();
    this.current = spawnWorker(this.env, this.args);
  }

  async stop(): Promise<void> {
    await this.current.stop();
    this.lines.push(...this.current.lines);
  }
}

/**
 * The fault runs' load: each command enqueued (10 a second), while the worker is killed `kills` times, each
 * time 4–10 s after the last and, within 2 s, while `inFlight()` says a channel call is under way (the case a
 * channel cannot tell apart from a lost answer).
 */
export async function enqueueWhileKilling(
  queue: { sendMessage(text: string): Promise<unknown> },
  messages: string[],
  worker: RestartedWorker,
  options: { kills: number; random: () => number; inFlight: () => boolean },
): Promise<void> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const producer = (async () => {
    for (let i = 0; i < messages.length; i++) {
      await queue.sendMessage(messages[i]!);
      if (i % 10 === 9) await sleep(1000);
    }
  })();
  const chaos = (async () => {
    for (let k = 0; k < options.kills; k++) {
      await sleep(4000 + options.random() * 6000);
      for (let i = 0; i < 100 && !options.inFlight(); i++) await sleep(20);
      await worker.kill();
    }
  })();
  await Promise.all([producer, chaos]);
}
