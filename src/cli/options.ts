// Option parsers and options the CLI's commands share, so that a flag means the same in every command.
import { InvalidArgumentError, Option } from 'commander';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number >= 0');
  return n;
}

/** A repeatable option's values, in order. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

export function outputFormat(value: string): 'text' | 'json' {
  if (value !== 'text' && value !== 'json') throw new InvalidArgumentError('must be text or json');
  return value;
}

/** The queue a producer sends to (run, enqueue). */
export function queueUrlOption(): Option {
  return new Option(
    '--queue-url <url>',
    'the command queue (default: COMMAND_QUEUE_URL, else AzureWebJobsStorage and COMMAND_QUEUE_NAME)',
  );
}
