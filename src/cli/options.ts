// Option parsers and options the CLI's commands share, so that a flag means the same in every command.
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Env } from '../config';

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

function outputFormat(value: string): 'text' | 'json' {
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

/** -o/--output: text for people, json for scripts (stdout is then one JSON document and nothing else). */
export function outputOption(description = 'text or json'): Option {
  return new Option('-o, --output <format>', description).argParser(outputFormat).default('text');
}

/** A cluster as az names one: --cluster <id>, or -g/-n with --subscription. */
function clusterOptions(note = ''): Option[] {
  return [
    new Option('--cluster <resourceId>', `managed cluster resource id${note ? ` (${note})` : ''}`).argParser(collect),
    new Option('-g, --resource-group <name>', "the cluster's resource group (with --name)"),
    new Option('-n, --name <name>', 'the cluster name (with --resource-group)').argParser(collect),
    new Option('--subscription <id>', "with -g/-n (default: AZURE_SUBSCRIPTION_ID, else your login's)"),
  ];
}

/** --cluster, -g/-n and --subscription, for a command that takes one cluster. */
export function addClusterOptions(cmd: Command, note = ''): Command {
  for (const option of clusterOptions(note)) cmd.addOption(option);
  return cmd;
}

/** The storage account of the queue, ledger and results (operator commands; default: the environment's). */
export function storageAccountOption(): Option {
  return new Option(
    '--storage-account <name>',
    "the deployment's storage account (default: AzureWebJobsStorage__accountName, as the deployment outputs it)",
  );
}

/**
 * The environment with --storage-account in place of whatever storage it names: the queue's URL and every
 * AzureWebJobsStorage setting go, so that the queue and the ledger are that account's alone.
 */
export function withStorageAccount(env: Env, account: string | undefined): Env {
  if (account === undefined) return env;
  const rest = Object.fromEntries(
    Object.entries(env).filter(([k]) => k !== 'COMMAND_QUEUE_URL' && !/^AzureWebJobsStorage(__\w+)?$/.test(k)),
  );
  return { ...rest, AzureWebJobsStorage__accountName: account };
}
