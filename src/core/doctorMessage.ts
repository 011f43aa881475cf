// The two messages a producer sends to check the wiring rather than to track a command (cli/doctor.ts,
// cli/run.ts). A probe proves that the sender may enqueue before `run` starts anything: the function drops
// it with a logged reason. A doctor message asks the function to answer, through the ledger, what it has
// (its targets and their checks), whether its identity may read each named cluster, and — with `notify` —
// to send its fixed test notification to every target (or those named).
//
// Any producer may send either, so neither carries text that reaches a channel: a doctor message names
// clusters, targets and a flag, nothing else (core/doctor.ts holds the only words the test posts). What it
// can make the function do is bounded there: a cluster is read at most once a minute, whoever asks.
import { z } from 'zod';
import { BOOKKEEPING_KEY, readBookkeeping, type Bookkeeping } from './bookkeeping';
import { clusterResourceId, type ClusterRef } from './cluster';
import { MessageError, parseClusterResourceId, reasonOf, targetsSchema, withBookkeeping } from './message';

/**
 * How long a probe or a doctor message may wait to be read: its sender has stopped waiting by then, and a
 * function that comes back days later must not post a test nobody asked for any more.
 */
export const CHECK_MESSAGE_TTL_SECONDS = 600;

/** At most this many clusters in one doctor message (the CLI splits more across messages). */
export const MAX_DOCTOR_CLUSTERS = 20;

/** A probe's or a doctor run's id: a plain token the sender chose (a random one). */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$/;
const runId = z.string().regex(RUN_ID, 'must be a plain token of 8-64 letters, digits, "-" or "_"');

export interface ProbeRequest {
  probe: string;
}

export interface DoctorRequest {
  id: string;
  clusters: ClusterRef[];
  notify: boolean;
  /** The targets to test (absent: every configured target). */
  targets?: string[];
  bookkeeping?: Bookkeeping;
}

const probeSchema = z.strictObject({ probe: runId });

const doctorSchema = z.strictObject({
  doctor: z.strictObject({
    id: runId,
    clusters: z
      .array(z.string().max(1024))
      .max(MAX_DOCTOR_CLUSTERS, `at most ${MAX_DOCTOR_CLUSTERS} clusters`)
      .optional(),
    notify: z.boolean().optional(),
    targets: targetsSchema,
  }),
  [BOOKKEEPING_KEY]: z.unknown().optional(),
});

export function isProbe(o: Record<string, unknown>): boolean {
  return 'probe' in o;
}

export function isDoctor(o: Record<string, unknown>): boolean {
  return 'doctor' in o;
}

export function parseProbe(o: Record<string, unknown>): ProbeRequest {
  const parsed = probeSchema.safeParse(o);
  if (!parsed.success) throw new MessageError(reasonOf(parsed.error.issues));
  return parsed.data;
}

export function parseDoctor(o: Record<string, unknown>): DoctorRequest {
  const parsed = doctorSchema.safeParse(o);
  if (!parsed.success) throw new MessageError(reasonOf(parsed.error.issues));
  const d = parsed.data.doctor;
  const clusters: ClusterRef[] = [];
  const seen = new Set<string>();
  for (const id of d.clusters ?? []) {
    const c = parseClusterResourceId(id);
    const key = clusterResourceId(c).toLowerCase();
    if (!seen.has(key)) clusters.push(c);
    seen.add(key);
  }
  const bookkeeping = readBookkeeping(parsed.data[BOOKKEEPING_KEY]);
  return {
    id: d.id,
    clusters,
    notify: d.notify === true,
    ...(d.targets ? { targets: d.targets } : {}),
    ...(bookkeeping ? { bookkeeping } : {}),
  };
}

export function serializeProbe(req: ProbeRequest): string {
  return JSON.stringify({ probe: req.probe });
}

export function serializeDoctor(req: DoctorRequest): string {
  return withBookkeeping(
    {
      doctor: {
        id: req.id,
        ...(req.clusters.length ? { clusters: req.clusters.map(clusterResourceId) } : {}),
        ...(req.notify ? { notify: true } : {}),
        ...(req.targets ? { targets: req.targets } : {}),
      },
    },
    req.bookkeeping,
  );
}
