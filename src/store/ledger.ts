// The delivery ledger: one partition per command (its key is a hash of cluster and command id), holding
//   - the command row ("_command"): the poll chain (generation, owner, lease), the deadline, and whether a
//     final result is stored;
//   - one row per target (row key = the target's name), registered by every copy of the command that
//     names it, with that copy's command text and context, and the target's delivery state.
// A fleet run's partition (groupKey) has the same chain row, which also holds what its first declaration
// said (GroupRecord), its target rows (registered once, from that declaration), and a row per member.
// Every write is conditional (insert-if-absent, or replace-if-unchanged by ETag), and every lease is
// judged on the Table service's clock: a row's Timestamp plus the lease, against the Date of the answer
// that read it. Rows are read tolerantly: fields this version does not know are kept on rewrite.
import { randomUUID } from 'node:crypto';
import type { MemberState } from '../core/group';
import { StoreRejectedError, type EntityStore, type NewEntity } from './entityStore';
import {
  COMMAND_ROW,
  commandEntity,
  isTargetRow,
  readCommand,
  readTarget,
  targetEntity,
  type CommandEntries,
  type CommandState,
  type GroupRecord,
  type TargetState,
} from './ledgerRows';
import { isMemberRow, memberEntity, readMember, type MemberRow } from './memberRows';

/** What a target row means now, on the server's clock. */
export type TargetReadiness =
  | { kind: 'done' }
  | { kind: 'failed' }
  /** Someone holds it (a live claim), or it must wait (Retry-After, backoff): for `waitMs` more. */
  | { kind: 'busy'; waitMs: number }
  | { kind: 'waiting'; waitMs: number }
  /** Free to claim; `inDoubt`: the last holder's claim ran out (it may have posted before it died). */
  | { kind: 'ready'; inDoubt: boolean };

export function readiness(t: TargetState, serverNow: number): TargetReadiness {
  switch (t.state) {
    case 'delivered':
    case 'skipped':
      return { kind: 'done' };
    case 'failed':
      return { kind: 'failed' };
    case 'claimed': {
      const left = t.timestampMs + (t.claimLeaseMs ?? 0) - serverNow;
      return left > 0 ? { kind: 'busy', waitMs: left } : { kind: 'ready', inDoubt: true };
    }
    case 'pending': {
      const left = t.timestampMs + (t.waitMs ?? 0) - serverNow;
      return left > 0 ? { kind: 'waiting', waitMs: left } : { kind: 'ready', inDoubt: false };
    }
  }
}

export interface Registration {
  clusterResourceId: string;
  commandId: string;
  firstSeenAt: string;
  deadlineAt: string;
  owner?: string;
  pollLeaseMs: number;
}

export interface TargetCopy {
  name: string;
  command?: string;
  context?: Record<string, string>;
}

export class Ledger {
  constructor(readonly store: EntityStore) {}

  async load(key: string): Promise<CommandEntries> {
    const { entities, serverNow } = await this.store.listPartition(key);
    let command: CommandState | undefined;
    const targets: TargetState[] = [];
    const members: MemberRow[] = [];
    for (const e of entities) {
      if (e.rowKey === COMMAND_ROW) command = readCommand(e);
      else if (isMemberRow(e.rowKey)) {
        const member = readMember(e);
        if (member) members.push(member);
      } else if (isTargetRow(e.rowKey)) targets.push(readTarget(e));
    }
    return { ...(command ? { command } : {}), targets, members, serverNow };
  }

  /**
   * Makes sure the command and this copy's targets are recorded; a row that exists is left as it is
   * (the first copy's deadline and each target's first registration stand). Returns what is recorded.
   */
  async register(
    key: string,
    init: Registration,
    given: TargetCopy[],
    loaded?: CommandEntries,
  ): Promise<CommandEntries & { created: boolean; rejected?: StoreRejectedError }> {
    let entries = loaded ?? (await this.load(key));
    let copies = given;
    let stripped: StoreRejectedError | undefined;
    const recordedAs = (created: boolean) => ({ ...entries, created, ...(stripped ? { rejected: stripped } : {}) });
    for (let round = 0; round < 4; round++) {
      const missing: NewEntity[] = [];
      const creating = !entries.command;
      if (creating) {
        missing.push(commandEntity(key, { ...init, stage: 'poll', gen: 1, other: {} }));
      }
      for (const copy of copies) {
        if (entries.targets.some((t) => t.name === copy.name)) continue;
        missing.push(
          targetEntity(key, {
            name: copy.name,
            state: 'pending',
            attempts: 0,
            ...(copy.command !== undefined ? { command: copy.command } : {}),
            ...(copy.context ? { context: copy.context } : {}),
            other: {},
          }),
        );
      }
      if (missing.length === 0) return recordedAs(false);
      let inserted: boolean;
      try {
        inserted = await this.store.insertAll(missing);
      } catch (err) {
        if (!(err instanceof StoreRejectedError) || stripped) throw err;
        // The rows are bounded, so this is a bug; still, the command must be tracked: its targets are
        // registered without the copy's command and context (the notification then shows the message's).
        stripped = err;
        copies = copies.map((c) => ({ name: c.name }));
        continue;
      }
      entries = await this.load(key);
      if (inserted) return recordedAs(creating);
      // Another copy registered at the same moment: look again and add what is still missing.
    }
    return recordedAs(false);
  }

  async writeCommand(
    key: string,
    prev: CommandState,
    next: Partial<Omit<CommandState, 'etag' | 'timestampMs'>>,
  ): Promise<CommandState | undefined> {
    const merged = { ...prev, ...next };
    const written = await this.store.replace(commandEntity(key, merged), prev.etag);
    return written ? { ...merged, etag: written.etag, timestampMs: written.serverNow } : undefined;
  }

  async writeTarget(
    key: string,
    prev: TargetState,
    next: Partial<Omit<TargetState, 'etag' | 'timestampMs' | 'name'>>,
  ): Promise<TargetState | undefined> {
    const merged: TargetState = { ...prev, ...next };
    const written = await this.store.replace(targetEntity(key, merged), prev.etag);
    return written ? { ...merged, etag: written.etag, timestampMs: written.serverNow } : undefined;
  }

  /**
   * One poll step of the live chain, in one conditional write: succeeds only if the command row is exactly
   * as this chain's last step left it (`etag`, carried in the message).
   */
  async step(
    key: string,
    etag: string,
    fields: { gen: number; owner?: string; pollLeaseMs: number },
  ): Promise<{ etag: string; serverNow: number } | undefined> {
    return this.store.merge(
      {
        partitionKey: key,
        rowKey: COMMAND_ROW,
        gen: fields.gen,
        owner: fields.owner ?? '',
        pollLeaseMs: Math.round(fields.pollLeaseMs),
      },
      etag,
    );
  }

  /**
   * Inserts a fleet run's chain row with its target rows, all or none (a transaction): false when a chain row
   * is there already, for then another declaration was recorded first.
   */
  async declareGroup(key: string, init: Registration & { group: GroupRecord }, targets: string[]): Promise<boolean> {
    return this.store.insertAll([
      commandEntity(key, { ...init, stage: 'poll', gen: 1, other: {} }),
      ...targets.map((name) => targetEntity(key, { name, state: 'pending', attempts: 0, other: {} })),
    ]);
  }

  /** Records a target for a command or group that has none of that name (an operator's `redeliver`). */
  async addTarget(key: string, name: string): Promise<void> {
    await this.store.insertAll([targetEntity(key, { name, state: 'pending', attempts: 0, other: {} })]);
  }

  /** Inserts the members not recorded yet (a batch holds at most 100 entities); true when all are there. */
  async addMembers(key: string, members: MemberState[], recorded: MemberRow[]): Promise<void> {
    const have = new Set(recorded.map((m) => m.rowKey));
    const missing = members.map((m) => memberEntity(key, m)).filter((e) => !have.has(e.rowKey));
    for (let i = 0; i < missing.length; i += 100) {
      const batch = missing.slice(i, i + 100);
      // Another copy inserted some meanwhile: insert what is still missing, one by one.
      if (!(await this.store.insertAll(batch))) for (const e of batch) await this.store.insertAll([e]);
    }
  }

  /** Rewrites a member row if it is unchanged since it was read; undefined when it changed. */
  async writeMember(key: string, prev: MemberRow, next: Partial<MemberState>): Promise<MemberRow | undefined> {
    const merged: MemberRow = { ...prev, ...next };
    const written = await this.store.replace(memberEntity(key, merged), prev.etag);
    return written ? { ...merged, etag: written.etag, timestampMs: written.serverNow } : undefined;
  }

  /** Claims a ready target for `leaseMs` on the server's clock; undefined if someone else changed it first. */
  async claim(
    key: string,
    target: TargetState,
    leaseMs: number,
    unsureSince?: number,
  ): Promise<TargetState | undefined> {
    return this.writeTarget(key, target, {
      state: 'claimed',
      claimId: randomUUID(),
      claimLeaseMs: leaseMs,
      unsureSince,
    });
  }
}
