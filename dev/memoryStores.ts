// The ledger's table and the result store in memory, on a clock the caller sets: the unit tests and the
// bench's simulations run the real poll and ledger logic on them, hours of schedule in milliseconds. They
// live in dev/, not src/, because nothing deployed or shipped uses them (a test searches the bundles).
import type { EntityStore, EntityValue, NewEntity, StoredEntity, Written } from '../src/store/entityStore';
import type { ResultStore, StoredResult } from '../src/store/results';

/** The entity without its unset properties, as the Table service stores it. */
function defined(entity: NewEntity): NewEntity {
  const out: NewEntity = { partitionKey: entity.partitionKey, rowKey: entity.rowKey };
  for (const [k, v] of Object.entries(entity) as [string, EntityValue | undefined][]) if (v !== undefined) out[k] = v;
  return out;
}

/** An in-memory table on a given clock, conditional like the Table service: the real ledger logic runs on it. */
export class MemoryEntityStore implements EntityStore {
  private readonly partitions = new Map<string, Map<string, StoredEntity>>();
  private version = 0;

  constructor(private readonly now: () => number = Date.now) {}

  private get(pk: string, rk: string): StoredEntity | undefined {
    return this.partitions.get(pk)?.get(rk);
  }

  private stamp(entity: NewEntity): StoredEntity {
    const stored = { ...defined(entity), etag: `W/"${++this.version}"`, timestampMs: this.now() } as StoredEntity;
    let partition = this.partitions.get(entity.partitionKey);
    if (!partition) this.partitions.set(entity.partitionKey, (partition = new Map()));
    partition.set(entity.rowKey, stored);
    return stored;
  }

  async listPartition(partitionKey: string): Promise<{ entities: StoredEntity[]; serverNow: number }> {
    const entities = [...(this.partitions.get(partitionKey)?.values() ?? [])].map((e) => ({ ...e }));
    return { entities, serverNow: this.now() };
  }

  async insertAll(entities: NewEntity[]): Promise<boolean> {
    if (entities.some((e) => this.get(e.partitionKey, e.rowKey))) return false;
    for (const e of entities) this.stamp(e);
    return true;
  }

  async replace(entity: NewEntity, etag: string): Promise<Written | undefined> {
    const current = this.get(entity.partitionKey, entity.rowKey);
    if (!current || current.etag !== etag) return undefined;
    return { etag: this.stamp(entity).etag, serverNow: this.now() };
  }

  async merge(entity: NewEntity, etag: string): Promise<Written | undefined> {
    const current = this.get(entity.partitionKey, entity.rowKey);
    if (!current || current.etag !== etag) return undefined;
    const { etag: _e, timestampMs: _t, ...kept } = current;
    return { etag: this.stamp({ ...kept, ...defined(entity) } as NewEntity).etag, serverNow: this.now() };
  }

  async delete(partitionKey: string, rowKey: string, etag: string): Promise<boolean> {
    const partition = this.partitions.get(partitionKey);
    if (partition?.get(rowKey)?.etag !== etag) return false;
    partition.delete(rowKey);
    if (partition.size === 0) this.partitions.delete(partitionKey);
    return true;
  }

  async *listOlderThan(cutoffMs: number): AsyncIterable<StoredEntity> {
    for (const partition of [...this.partitions.values()])
      for (const e of [...partition.values()]) if (e.timestampMs < cutoffMs) yield { ...e };
  }

  async *listSince(sinceMs: number): AsyncIterable<StoredEntity> {
    for (const partition of [...this.partitions.values()])
      for (const e of [...partition.values()]) if (e.timestampMs >= sinceMs) yield { ...e };
  }

  get size(): number {
    let n = 0;
    for (const p of this.partitions.values()) n += p.size;
    return n;
  }
}

/** Results kept in a map, stamped with the given clock for retention. */
export class MemoryResultStore implements ResultStore {
  readonly results = new Map<string, { result: StoredResult; at: number; etag: string }>();
  private version = 0;
  constructor(private readonly now: () => number = Date.now) {}
  async put(key: string, result: StoredResult): Promise<void> {
    this.results.set(key, {
      result: JSON.parse(JSON.stringify(result)) as StoredResult,
      at: this.now(),
      etag: `"${++this.version}"`,
    });
  }
  async get(key: string): Promise<StoredResult | undefined> {
    return this.results.get(key)?.result;
  }
  async getVersioned(key: string): Promise<{ result?: StoredResult; etag: string } | undefined> {
    const stored = this.results.get(key);
    return stored
      ? { result: JSON.parse(JSON.stringify(stored.result)) as StoredResult, etag: stored.etag }
      : undefined;
  }
  async putIf(key: string, result: StoredResult, etag: string | undefined): Promise<boolean> {
    if (this.results.get(key)?.etag !== etag) return false;
    await this.put(key, result);
    return true;
  }
  async delete(key: string): Promise<void> {
    this.results.delete(key);
  }
  async *listOlderThan(cutoffMs: number): AsyncIterable<string> {
    for (const [k, v] of [...this.results]) if (v.at < cutoffMs) yield k;
  }
}
