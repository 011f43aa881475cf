// One member of a fleet run as the CLI knows it while it starts and follows the group: how its start went,
// its command id, and its result once read. fleet.ts fills it in, fleetFollow.ts adds the results and
// fleetReport.ts shows the members as the notifier's summary does.
import type { ClusterRef } from '../core/cluster';
import type { FinalAnswer } from '../core/report';

export interface FleetMember {
  cluster: ClusterRef;
  index: number;
  start: 'started' | 'couldNotStart' | 'startUnknown';
  commandId?: string;
  /** Why it did not start (the whole explanation), or that its tracking message could not be sent. */
  error?: string;
  startedAtMs?: number;
  /** Started, but its tracking message could not be sent: the notifier's summary shows it as "start unknown". */
  untracked?: boolean;
  answer?: FinalAnswer;
  waitedSeconds?: number;
}
