// Which clusters a fleet run is on: every --cluster, the lines of --clusters <file> and what --graph-query
// selects (as the caller), in that order, each once, at most MAX_GROUP_MEMBERS; and, for many clusters from
// a file or a query, the caller's confirmation. All of it before anything is sent.
import { readFileSync } from 'node:fs';
import { queryManagedClusterIds } from '../arm/resourceGraph';
import type { CallerSettings } from '../config';
import type { ClusterRef } from '../core/cluster';
import { MAX_GROUP_MEMBERS, memberId } from '../core/group';
import { parseClusterResourceId } from '../core/message';
import { CONFIRM_ABOVE_CLUSTERS } from '../core/schedule';
import { RunError, type Io } from './io';
import type { Caller } from './start';

/** How the clusters were named (fleet.ts's FleetInput). */
export interface ClusterSelection {
  /** --cluster, as often as given. */
  clusters?: string[];
  clustersFile?: string;
  graphQuery?: string;
  yes?: boolean;
}

/** Where the CLI runs: whether a person can answer, and how to ask. */
export interface Terminal {
  interactive: boolean;
  confirm(question: string): Promise<boolean>;
}

/** Whether these options make a fleet run (one --cluster alone keeps `run` as it was). */
export function isFleet(input: ClusterSelection): boolean {
  return (input.clusters?.length ?? 0) > 1 || input.clustersFile !== undefined || input.graphQuery !== undefined;
}

/** One resource id a line; blank lines and lines starting with # are skipped. */
function parseClustersFile(text: string, name: string): ClusterRef[] {
  const out: ClusterRef[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    try {
      out.push(parseClusterResourceId(line));
    } catch (err) {
      throw new RunError(`${name}, line ${i + 1}: ${(err as Error).message}`);
    }
  });
  return out;
}

function unique(clusters: ClusterRef[]): ClusterRef[] {
  const seen = new Set<string>();
  return clusters.filter((c) => (seen.has(memberId(c)) ? false : (seen.add(memberId(c)), true)));
}

/** The clusters, every way given, in order, each once; none, or more than a group takes, is a RunError. */
export async function selectClusters(
  input: ClusterSelection,
  settings: CallerSettings,
  caller: Caller,
  io: Io,
): Promise<ClusterRef[]> {
  const chosen: ClusterRef[] = [];
  for (const id of input.clusters ?? []) {
    try {
      chosen.push(parseClusterResourceId(id));
    } catch (err) {
      throw new RunError(`--cluster ${id.slice(0, 200)}: ${(err as Error).message}`);
    }
  }
  if (input.clustersFile !== undefined) {
    let text: string;
    try {
      text = input.clustersFile === '-' ? readFileSync(0, 'utf8') : readFileSync(input.clustersFile, 'utf8');
    } catch (err) {
      throw new RunError(`--clusters ${input.clustersFile}: ${(err as Error).message}`);
    }
    chosen.push(...parseClustersFile(text, input.clustersFile));
  }
  if (input.graphQuery !== undefined) {
    if (!input.graphQuery.trim()) throw new RunError('--graph-query is empty');
    await caller.armToken();
    let ids: string[];
    try {
      ids = await queryManagedClusterIds(
        {
          endpoint: settings.armEndpoint,
          scope: settings.armScope,
          credential: caller.credential(),
          timeoutMs: settings.armTimeoutMs,
        },
        input.graphQuery,
      );
    } catch (err) {
      throw new RunError(`--graph-query: ${(err as Error).message}`);
    }
    for (const id of ids) {
      try {
        chosen.push(parseClusterResourceId(id));
      } catch {
        io.err(`--graph-query: left out ${id.slice(0, 300)} (not a managed cluster id)`);
      }
    }
  }
  const clusters = unique(chosen);
  if (clusters.length === 0) throw new RunError('no clusters were selected: nothing was started');
  if (clusters.length > MAX_GROUP_MEMBERS)
    throw new RunError(
      `${clusters.length} clusters selected; a fleet run takes at most ${MAX_GROUP_MEMBERS}: nothing was started`,
    );
  return clusters;
}

/**
 * More than CONFIRM_ABOVE_CLUSTERS from a file or a query: the person at the terminal says yes, or --yes
 * does; without a terminal and without --yes, nothing starts.
 */
export async function confirmSelection(input: ClusterSelection, count: number, terminal: Terminal): Promise<void> {
  const fromSelection = input.clustersFile !== undefined || input.graphQuery !== undefined;
  if (!fromSelection || count <= CONFIRM_ABOVE_CLUSTERS || input.yes) return;
  if (!terminal.interactive)
    throw new RunError(
      `${count} clusters selected (more than ${CONFIRM_ABOVE_CLUSTERS} from a file or a query): pass --yes to run on all of them, or --dry-run to list them; nothing was started`,
    );
  if (!(await terminal.confirm(`Run the command on ${count} clusters? [y/N] `)))
    throw new RunError('not confirmed: nothing was started');
}
