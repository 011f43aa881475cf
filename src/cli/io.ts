// What the caller-side commands (run, result) share: where they print, how a user stops them, their exit
// codes, and the error that means nothing was enqueued.
export const EXIT = { failed: 1, usage: 2, gaveUp: 124, interrupted: 130 } as const;

/** Nothing was enqueued (an error before the start, or a start that was refused or is in doubt): exit code 2. */
export class RunError extends Error {
  override name = 'RunError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
  }
}

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Resolves when the user asks to stop following (Ctrl-C). */
  interrupted?: Promise<void>;
  sleep?(ms: number): Promise<void>;
}

/** A question on the terminal, when there is one to ask (fleet runs' confirmation). */
export function confirmOnTerminal(): { interactive: boolean; confirm(question: string): Promise<boolean> } {
  return {
    interactive: !!process.stdin.isTTY && !!process.stderr.isTTY,
    async confirm(question) {
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question(question)).trim());
      } finally {
        rl.close();
      }
    },
  };
}
