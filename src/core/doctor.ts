// What a doctor run learns and says, decided without I/O: the answer the function writes in the ledger
// for `aks-command-notifier doctor` (its targets and their checks, each cluster's read), what a read of a
// random command id on a cluster means, how long a cluster's read stands, and the only test notification
// there is — fixed words, none of them from the message that asked for it.
import { createHash } from 'node:crypto';
import type { ArmAnswer } from './armAnswer';
import { REQUIRED_PERMISSION, type CommandReport } from './report';

/** A cluster is read for a doctor run at most this often (one read serves every doctor run in between). */
export const DOCTOR_CLUSTER_READ_EVERY_MS = 60_000;

interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DoctorTarget {
  name: string;
  kind: string;
  /** Where its channel is configured, never the value (the provider's `describe`). */
  where: string;
  isDefault: boolean;
  notifyOn: 'all' | 'failure';
  /** `all`, or the _CLUSTERS patterns. */
  clusters: string;
  checks: DoctorCheck[];
}

export type ClusterReadResult = 'readable' | 'forbidden' | 'clusterNotFound' | 'error' | 'busy';

export interface DoctorCluster {
  id: string;
  result: ClusterReadResult;
  detail: string;
  /** When ARM was asked (an earlier doctor run's read, when within the minute). */
  readAt?: string;
}

export interface DoctorAnswer {
  v: 1;
  id: string;
  at: string;
  targets: DoctorTarget[];
  defaultTargets: string[];
  /** Names the message asked about that are not configured. */
  unknownTargets: string[];
  clusters: DoctorCluster[];
  /** The targets the test notification goes to (empty without --notify). */
  notify: string[];
  /** Details were shortened, and targets left out, to fit the ledger (a very large configuration). */
  truncated?: boolean;
}

/** What ARM's answer to `commandResults/<random id>` says about the app's identity on that cluster. */
export function clusterRead(answer: ArmAnswer): { result: ClusterReadResult; detail: string } {
  const said = (e?: { code?: string; message?: string }) =>
    [e?.code, e?.message].filter(Boolean).join(': ').slice(0, 500);
  switch (answer.kind) {
    case 'notFound': {
      // The cluster itself missing is ARM's ResourceNotFound/ParentResourceNotFound naming the managed cluster.
      const e = answer.error;
      const missing =
        /^(ResourceGroupNotFound|SubscriptionNotFound)$/i.test(e?.code ?? '') ||
        (/^(Parent)?ResourceNotFound$/i.test(e?.code ?? '') && /managedClusters/i.test(e?.message ?? ''));
      if (missing) return { result: 'clusterNotFound', detail: `ARM answered 404: ${said(e)}` };
      return { result: 'readable', detail: 'ARM answered 404 for a random command id: the identity may read results' };
    }
    case 'running':
    case 'finished':
      return { result: 'readable', detail: 'ARM answered with a result: the identity may read results' };
    case 'forbidden':
      return {
        result: 'forbidden',
        detail:
          `ARM answered ${answer.status}: the identity lacks ${REQUIRED_PERMISSION}. ${said(answer.error)}`.trim(),
      };
    case 'rejected':
      return { result: 'error', detail: `${answer.detail} ${said(answer.error)}`.trim() };
    case 'transient':
      return { result: 'error', detail: answer.detail.slice(0, 500) };
  }
}

/**
 * How a doctor run is named where a channel shows it: a digest of its id, since the id is the sender's
 * choice (any 8-64 letters and digits) and a channel shows only our words. The CLI prints the same.
 */
export function doctorRunTag(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 12);
}

/**
 * The test notification: our words only. It is rendered as a succeeded command's report so that every
 * channel shows it within its own limits; `test` gives it its own headline and facts (core/report.ts,
 * notify/compose.ts).
 */
export function testReport(id: string, at: string): CommandReport {
  return {
    outcome: 'succeeded',
    test: true,
    subscriptionId: '',
    resourceGroupName: '',
    clusterName: 'aks-command-notifier',
    clusterResourceId: '',
    commandId: doctorRunTag(id),
    finishedAt: at,
    logs: 'A test notification from aks-command-notifier doctor --notify: this channel receives what the notifier posts. Nothing ran on any cluster.',
  };
}
