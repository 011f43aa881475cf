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
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'worker', '--max-polling-interval-ms', '200', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
