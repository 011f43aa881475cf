#!/usr/bin/env node
// aks-command-notifier: run, result, enqueue, doctor, worker, demo, preview, status, redrive, redeliver.
//
// az's conventions: a cluster by --cluster <id> or by --resource-group/-g and --name/-n (--subscription,
// else AZURE_SUBSCRIPTION_ID, else the login's); -o/--output json on every command that prints data, with
// nothing but JSON on stdout; --version. A usage error is one line on stderr and exit code 2, never a help
// dump. The deployment (queue, ledger, outputs) comes from flags, then the environment, then the azd
// environment of the project in this folder (deployment.ts).
//
// The commands register themselves, by group: commands/caller.ts (run, result, enqueue), commands/operator.ts
// (doctor, status, redrive, redeliver), commands/local.ts (worker, demo, preview). Here they are composed,
// and every error is made into its line and exit code.
import { Command, CommanderError } from 'commander';
import { version } from '../../package.json';
import { ConfigError } from '../config';
import { StoreRejectedError, StoreUnavailableError } from '../store/entityStore';
import { MessageError } from '../core/message';
import { addEnqueueCommand, addResultCommand, addRunCommand } from './commands/caller';
import { addDemoCommand, addPreviewCommand, addWorkerCommand } from './commands/local';
import { addDoctorCommand, addRedeliverCommand, addRedriveCommand, addStatusCommand } from './commands/operator';
import { describeNoCredential, isNoCredential } from './credentials';

export function buildCli(): Command {
  const program = new Command('aks-command-notifier')
    .description('Waits for AKS run command results and posts them to Slack and Microsoft Teams.')
    .version(version, '--version', 'print the version')
    // Inherited by every command added below: usage errors come back here (exit 2, one line).
    .exitOverride();

  // In the order --help lists them.
  addWorkerCommand(program);
  addRunCommand(program);
  addResultCommand(program);
  addEnqueueCommand(program);
  addDemoCommand(program);
  addDoctorCommand(program);
  addRedriveCommand(program);
  addStatusCommand(program);
  addRedeliverCommand(program);
  addPreviewCommand(program);
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  if (argv.length <= 2) {
    // No command: one line, as any usage error (the list is in --help).
    console.error(
      'error: give a command (run, result, enqueue, doctor, status…); aks-command-notifier --help lists them',
    );
    process.exitCode = 2;
    return;
  }
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its one line (or the help, or the version): 0 for those, 2 for usage errors.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (isNoCredential(err)) {
      console.error(`error: ${describeNoCredential(err)}`);
      process.exitCode = 2;
      return;
    }
    if (
      err instanceof ConfigError ||
      err instanceof MessageError ||
      err instanceof StoreUnavailableError ||
      err instanceof StoreRejectedError ||
      ['RedeliverError', 'RunError', 'AttachError'].includes((err as Error).name)
    ) {
      console.error(`error: ${(err as Error).message}`);
      process.exitCode = (err as { exitCode?: number }).exitCode ?? 2;
      return;
    }
    console.error(`error: ${(err as Error).message}`);
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
  }
}

if (require.main === module) void main();
