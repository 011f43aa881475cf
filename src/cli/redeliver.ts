// `aks-command-notifier redeliver`: sends a delivered or failed notification again, on purpose, from the
// stored result (ARM is not asked again). It resets the chosen targets in the ledger and enqueues a
// message naming exactly them; the function delivers it as any other.
import { deliveryDeadlineMs } from '../core/schedule';
import { clusterResourceId } from '../core/cluster';
import { parseClusterResourceId, checkCommandId, serializePollRequest } from '../core/message';
import { readiness } from '../store/ledger';
import { commandKey } from '../store/ledgerRows';
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
  const names = input.targets?.length ? input.targets : entries.targets.map((t) => t.name);
  if (names.length === 0) throw new RedeliverError('the command has no recorded targets: name one with --target');
  for (const name of names) {
    const row = entries.targets.find((t) => t.name === name);
    if (!row) {
      log(`target ${name}: not recorded for this command; it will be added`);
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
  const renewed = await stores.ledger.writeCommand(key, entries.command, {
    deliverBy: new Date(deliveryDeadlineMs(now, stores.settings.delivery.timeoutHours)).toISOString(),
  });
  if (!renewed)
    throw new RedeliverError('the command changed while its delivery window was renewed; run redeliver again');
  await stores.queue.send(serializePollRequest({ cluster, commandId, targets: names }));
  return { targets: names };
}
