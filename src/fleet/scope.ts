// Which targets hear of a fleet run, decided in one place and always against what the ledger recorded of
// the group (its member rows and target rows), never the message at hand: a target shows the group when it
// is allowed every member (core/group.ts showsGroup); the group's summary tells it of its members unless it
// asks for each member too (_EACH).
import { showsGroup } from '../core/group';
import type { ClusterRef } from '../core/cluster';
import type { Target } from '../notify/provider';
import type { CommandEntries } from '../store/ledgerRows';

/** Whether a target may show the group, against the recorded members. */
export function recordedScope(entries: Pick<CommandEntries, 'members'>): (target: Target) => boolean {
  return (target) => showsGroup(target, entries.members);
}

/** Whether a target a declaration names may show the group, against the members it declares (before any record). */
export function declaredScope(members: readonly ClusterRef[]): (target: Target) => boolean {
  const declared = members.map((cluster) => ({ cluster }));
  return (target) => showsGroup(target, declared);
}

/** The recorded targets that may show the group now (configured, and allowed every recorded member). */
export function showing(targets: ReadonlyMap<string, Target>, entries: CommandEntries): Target[] {
  const shows = recordedScope(entries);
  return entries.targets.flatMap((row) => {
    const target = targets.get(row.name);
    return target && shows(target) ? [target] : [];
  });
}

/**
 * Which targets the group's summary is due to tell of its members: recorded for the group, not failed there,
 * allowed to show the group (against the recorded members), and not asking for each member too (_EACH).
 */
export function toldBy(group: CommandEntries): (target: Target) => boolean {
  const shows = recordedScope(group);
  return (target) => {
    if (target.each) return false;
    const row = group.targets.find((t) => t.name === target.name);
    return !!row && row.state !== 'failed' && shows(target);
  };
}
