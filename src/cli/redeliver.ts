// `aks-command-notifier redeliver`: sends a delivered or failed notification again, on purpose, from the
// stored result (ARM is not asked again). It resets the chosen targets in the ledger and enqueues a
// message naming exactly them; the function delivers it as any other. `--group` does the same for a fleet
// run's summary: the targets are reset (or recorded, for one the group never had) by the operator, who may
// write the ledger, and the message only asks for the group's summary, which no producer can widen.
import { deliveryDeadlineMs } from '../core/schedule';
import { clusterResourceId } from '../core/cluster';
import { serializeSummaryRequest } from '../core/groupMessage';
import { parseClusterResourceId, checkCommandId, GROUP_ID, MessageError, serializePollRequest } from '../core/message';
import { TARGET_NAME } from '../core/targetName';
import { readiness } from '../store/ledger';
import { commandKey, groupKey, type CommandEntries } from '../store/ledgerRows';
import type { OperatorStores } from './operator';

export interface RedeliverResult {
  targets: string[];
}

class RedeliverError extends Error {
  override name = 'RedeliverError';
}

export async function redeliver(
  stores: OperatorStores,
  input: { cluster: string; commandId: string; targets?: string[]; now?: number },
  log: (line: string) => void,
): Promise<RedeliverResult> {
  const cluster = parseClusterResourceId(input.cluster);
  const commandId = checkCommandId(input.commandId);
  const id = clusterResourceId(cluster);
  const key = commandKey(id, commandId);
  const now = input.now ?? Date.now();
  const entries = await stores.ledger.load(key);
  if (!entries.command || entries.command.stage !== 'final' || !(await stores.results.get(key))) {
    throw new RedeliverError(
      `no stored result for command ${commandId} on ${cluster.resourceName}: it has not finished yet, it was never tracked here, or its records are past LEDGER_RETENTION_DAYS`,
    );
  }
  const names = await resetTargets(stores, key, entries, input, now, log, 'command');
  await stores.queue.send(serializePollRequest({ cluster, commandId, targets: names }));
  return { targets: names };
}

/** Sends a fleet run's summary again, to every target recorded for the group or to those named. */
export async function redeliverGroup(
  stores: OperatorStores,
  input: { groupId: string; targets?: string[]; now?: number },
  log: (line: string) => void,
): Promise<RedeliverResult> {
  if (!GROUP_ID.test(input.groupId)) throw new MessageError('--group must be a fleet run id (run prints it)');
  const key = groupKey(input.groupId);
  const entries = await stores.ledger.load(key);
  const stored = await stores.results.get(key);
  if (
    !entries.command ||
    entries.command.stage !== 'final' ||
    stored?.answer.kind !== 'group' ||
    !stored.answer.settled
  ) {
    throw new RedeliverError(
      `no settled summary for group ${input.groupId}: it has not ended yet, it was never tracked here, or its records are past LEDGER_RETENTION_DAYS`,
    );
  }
  const names = await resetTargets(stores, key, entries, input, input.now ?? Date.now(), log, 'group');
  await stores.queue.send(serializeSummaryRequest({ groupId: input.groupId }));
  return { targets: names };
}

/**
 * Resets the chosen targets to pending (all recorded ones by default) and renews the delivery window. A
 * command's unrecorded target is added by the message that follows; a group's is recorded here (its
 * messages never add one).
 */
async function resetTargets(
  stores: OperatorStores,
  key: string,
  entries: CommandEntries,
  input: { targets?: string[] },
  now: number,
  log: (line: string) => void,
  what: 'command' | 'group',
): Promise<string[]> {
  const names = input.targets?.length ? input.targets : entries.targets.map((t) => t.name);
  if (names.length === 0) throw new RedeliverError(`the ${what} has no recorded targets: name one with --target`);
  for (const name of names) {
    const row = entries.targets.find((t) => t.name === name);
    if (!row) {
      if (what === 'group') {
        if (!TARGET_NAME.test(name)) throw new RedeliverError(`--target ${name.slice(0, 80)} is not a target name`);
        await stores.ledger.addTarget(key, name);
        log(`target ${name}: not recorded for this group; recorded now`);
      } else log(`target ${name}: not recorded for this command; it will be added`);
      continue;
    }
    const state = readiness(row, entries.serverNow);
    if (state.kind === 'busy')
      throw new RedeliverError(
        `target ${name} is being delivered right now; try again in ${Math.ceil(state.waitMs / 1000)}s`,
      );
    const reset = await stores.ledger.writeTarget(key, row, {
      state: 'pending',
      attempts: 0,
      waitMs: 0,
      lastError: '',
    });
    if (!reset) throw new RedeliverError(`target ${name} changed while it was reset; run redeliver again`);
    log(`target ${name}: ${row.state}${row.form ? ` (${row.form})` : ''} → pending`);
  }
  const renewed = await stores.ledger.writeCommand(key, entries.command!, {
    deliverBy: new Date(deliveryDeadlineMs(now, stores.settings.delivery.timeoutHours)).toISOString(),
  });
  if (!renewed)
    throw new RedeliverError(`the ${what} changed while its delivery window was renewed; run redeliver again`);
  return names;
}
