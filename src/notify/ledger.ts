// Which (command, target) pairs were announced, in Table storage of the account the app already uses.
// A conditional insert claims a pair before posting, so two copies of one command cannot both post;
// the claim becomes "delivered" right after the webhook's 2xx. What remains (documented in the README):
// a worker that dies after the webhook accepted and before that write; its claim expires after the
// lease and the pair is posted again.
import { createHash } from 'node:crypto';
import { RestError, TableClient } from '@azure/data-tables';

export type ClaimResult =
  | { kind: 'claimed'; etag: string }
  | { kind: 'done'; state: 'delivered' | 'failed' }
  | { kind: 'busy'; until: number };

interface Entity {
  partitionKey: string;
  rowKey: string;
  state: 'claimed' | 'delivered' | 'failed';
  until?: number;
  detail?: string;
}

export interface DeliveryLedger {
  claim(commandKey: string, target: string, leaseMs: number): Promise<ClaimResult>;
  markDelivered(commandKey: string, target: string): Promise<void>;
  markFailed(commandKey: string, target: string, detail: string): Promise<void>;
  /** Gives a claim back; `notBeforeMs` keeps others away (Retry-After across invocations). */
  release(commandKey: string, target: string, etag: string, notBeforeMs?: number): Promise<void>;
}

export function commandKey(clusterResourceId: string, commandId: string): string {
  return createHash('sha256').update(`${clusterResourceId.toLowerCase()}|${commandId}`).digest('hex');
}

const status = (err: unknown): number | undefined => (err instanceof RestError ? err.statusCode : (err as { statusCode?: number }).statusCode);

export class TableDeliveryLedger implements DeliveryLedger {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly table: TableClient,
    private readonly now: () => number = Date.now,
  ) {}

  private ensureTable(): Promise<void> {
    this.ready ??= this.table.createTable().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async claim(pk: string, target: string, leaseMs: number): Promise<ClaimResult> {
    await this.ensureTable();
    const now = this.now();
    try {
      const res = await this.table.createEntity<Entity>({ partitionKey: pk, rowKey: target, state: 'claimed', until: now + leaseMs });
      return { kind: 'claimed', etag: res.etag ?? '*' };
    } catch (err) {
      if (status(err) !== 409) throw err;
    }
    const existing = await this.table.getEntity<Entity>(pk, target);
    if (existing.state === 'delivered' || existing.state === 'failed') return { kind: 'done', state: existing.state };
    if ((existing.until ?? 0) > now) return { kind: 'busy', until: existing.until ?? now };
    try {
      const res = await this.table.updateEntity<Entity>(
        { partitionKey: pk, rowKey: target, state: 'claimed', until: now + leaseMs },
        'Replace',
        { etag: existing.etag },
      );
      return { kind: 'claimed', etag: res.etag ?? '*' };
    } catch (err) {
      if (status(err) === 412) return { kind: 'busy', until: now + leaseMs };
      throw err;
    }
  }

  async markDelivered(pk: string, target: string): Promise<void> {
    await this.table.upsertEntity<Entity>({ partitionKey: pk, rowKey: target, state: 'delivered' }, 'Replace');
  }

  async markFailed(pk: string, target: string, detail: string): Promise<void> {
    await this.table.upsertEntity<Entity>({ partitionKey: pk, rowKey: target, state: 'failed', detail: detail.slice(0, 500) }, 'Replace');
  }

  async release(pk: string, target: string, etag: string, notBeforeMs?: number): Promise<void> {
    try {
      if (notBeforeMs !== undefined) {
        await this.table.updateEntity<Entity>({ partitionKey: pk, rowKey: target, state: 'claimed', until: notBeforeMs }, 'Replace', { etag });
      } else {
        await this.table.deleteEntity(pk, target, { etag });
      }
    } catch (err) {
      // Someone else took it over after our lease ran out: theirs now.
      if (status(err) !== 412 && status(err) !== 404) throw err;
    }
  }
}
