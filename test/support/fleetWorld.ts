// A fleet run in the memory world (support/memory.ts): the real handler over the real ledger logic, on a
// clock the test moves, each member's command answering what the test says. What the handler re-enqueued
// is handed back in whatever order the test chooses (a backlog, a race), and what reached a channel is
// counted per member: its own reports, and the summaries that show its result.
import type { GroupReport } from '../../src/core/group';
import type { CommandReport } from '../../src/core/report';
import { handleCommandMessage } from '../../src/pipeline/journey';
import { memoryWorld, quiet, type MemoryWorld } from './memory';

export const memberId = (name: string) =>
  `/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/${name}`;

export interface FleetWorld {
  w: MemoryWorld;
  groupId: string;
  declaration: string;
  /** Member i's tracking message (its command: c<i>). */
  tracking(i: number): string;
  /** Member i's command finishes with this exit code (until then ARM answers "Running"). */
  finish(i: number, exitCode: number): void;
  handle(text: string): ReturnType<typeof handleCommandMessage>;
  /** The newest re-enqueued message that `pick` chooses. */
  latest(pick: (m: Record<string, unknown>) => boolean): string;
  /** The group's chain (its newest re-enqueued declaration), and member i's newest message. */
  chain(): string;
  of(i: number): string;
  /** Summary requests enqueued (redeliver --group, or a member that ended an overdue group). */
  summaryRequests(): string[];
  /** How often member i's result reached a target: its own report, or a settled summary showing it over. */
  told(target: string, i: number): number;
  summaries(target: string): GroupReport[];
}

export function fleetWorld(names: string[], targets: string[] = ['slack']): FleetWorld {
  const w = memoryWorld({}, targets);
  const exits = new Map<string, number>();
  w.deps.arm = {
    read: async (_cluster, commandId) => {
      w.armReads++;
      const exitCode = exits.get(commandId);
      return exitCode === undefined
        ? { kind: 'running', provisioningState: 'Running' }
        : { kind: 'finished', result: { provisioningState: 'Succeeded', exitCode, logs: `exit ${exitCode}\n` } };
    },
  };
  const groupId = 'g-1';
  const ids = names.map(memberId);
  const command = 'kubectl get nodes';
  let n = 0;
  const parsed = () => w.sent.map(([text]) => [text, JSON.parse(text) as Record<string, unknown>] as const);
  const latest = (pick: (m: Record<string, unknown>) => boolean) => {
    const found = parsed()
      .reverse()
      .find(([, m]) => pick(m));
    if (!found) throw new Error('no such message was re-enqueued');
    return found[0];
  };
  const posts = (target: string) =>
    (w.posted.get(target) ?? []).map((p) => (p as { report: CommandReport | GroupReport }).report);
  const summaries = (target: string) =>
    posts(target).filter((r): r is GroupReport => 'kind' in r && r.kind === 'group');
  return {
    w,
    groupId,
    declaration: JSON.stringify({ groupId, members: ids, command }),
    tracking: (i) => JSON.stringify({ clusterResourceId: ids[i], commandId: `c${i}`, command, groupId }),
    finish: (i, exitCode) => void exits.set(`c${i}`, exitCode),
    handle: (text) =>
      handleCommandMessage(text, { insertionTime: new Date(w.clock.now), id: `m${++n}` }, w.deps, quiet),
    latest,
    chain: () => latest((m) => 'members' in m),
    of: (i) => latest((m) => m.commandId === `c${i}`),
    summaryRequests: () => parsed().flatMap(([text, m]) => ('deliverSummary' in m ? [text] : [])),
    told: (target, i) => {
      const own = posts(target).filter((r) => !('kind' in r) && r.commandId === `c${i}` && r.outcome).length;
      const inSummary = summaries(target).filter((s) =>
        s.members.some((l) => l.commandId === `c${i}` && l.outcome !== 'running' && l.outcome !== 'timedOut'),
      ).length;
      return own + inSummary;
    },
    summaries,
  };
}
