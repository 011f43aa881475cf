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
