// The few table operations the ledger needs, each conditional, each answered with the Table service's own
// clock (its Date header and the entities' Timestamp), so that leases written by one instance are judged
// by every other on one clock. Azure Tables (or Azurite) in production and tests; the unit tests and the
// bench's simulations use an in-memory table on a settable clock (dev/memoryStores.ts).
import { RestError, TableClient, type TableEntity, type TableTransaction } from '@azure/data-tables';

export type EntityValue = string | number | boolean;

export interface NewEntity {
  partitionKey: string;
  rowKey: string;
  [property: string]: EntityValue | undefined;
}

export interface StoredEntity extends NewEntity {
  etag: string;
  /** Server time of the entity's last write, in ms. */
  timestampMs: number;
}

export interface Written {
  etag: string;
  /** Server time when the write landed, in ms (second precision). */
  serverNow: number;
}

/** The store could not be reached or failed (network, timeout, 5xx, throttling): worth another try later. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * The store refused the request itself (400 and the other 4xx that are about the request, such as
 * PropertyValueTooLarge): a bug, or input it cannot hold. Never an outage: trying again changes nothing.
 */
export class StoreRejectedError extends Error {
  override name = 'StoreRejectedError';
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface EntityStore {
  listPartition(partitionKey: string): Promise<{ entities: StoredEntity[]; serverNow: number }>;
  /** Inserts every entity in one transaction: all, or none when one already exists (false). */
  insertAll(entities: NewEntity[]): Promise<boolean>;
  /** Replaces the entity if it is unchanged since `etag`; undefined when it changed or vanished. */
  replace(entity: NewEntity, etag: string): Promise<Written | undefined>;
  /** Sets these properties (others are kept) if the entity is unchanged since `etag`. */
  merge(entity: NewEntity, etag: string): Promise<Written | undefined>;
  /** Deletes the entity if it is unchanged since `etag`; false when it changed or vanished. */
  delete(partitionKey: string, rowKey: string, etag: string): Promise<boolean>;
  /** Entities whose last write is older than `cutoffMs` (retention). */
  listOlderThan(cutoffMs: number): AsyncIterable<StoredEntity>;
  /** Entities written at or after `sinceMs` (status). */
  listSince(sinceMs: number): AsyncIterable<StoredEntity>;
}

const statusOf = (err: unknown): number | undefined =>
  err instanceof RestError ? err.statusCode : (err as { statusCode?: number })?.statusCode;

/** The service's error code (x-ms-error-code, or the OData error's), whichever the SDK kept. */
function errorCodeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; details?: { errorCode?: unknown; odataError?: { code?: unknown } } };
  const code = [e?.details?.errorCode, e?.details?.odataError?.code, e?.code].find(
    (c): c is string => typeof c === 'string' && /^[A-Za-z][\w]{0,80}$/.test(c),
  );
  return code;
}

/** 4xx that say the request is wrong; 401/403 (a role not yet granted), 408 and 429 are worth waiting out. */
function isRejection(status: number | undefined): status is number {
  return status !== undefined && status >= 400 && status < 500 && ![401, 403, 404, 408, 409, 412, 429].includes(status);
}

/** What a failed storage call means: a rejection (the request) or an outage (everything else). */
export function storeFailure(err: unknown, store: string, what: string): StoreUnavailableError | StoreRejectedError {
  const e = err as { name?: string; code?: string; message?: string };
  const status = statusOf(err);
  const code = errorCodeOf(err);
  if (isRejection(status))
    return new StoreRejectedError(`${store} refused the ${what} with ${status}${code ? ` ${code}` : ''}`, status, code);
  const why =
    e?.name === 'AbortError' || e?.name === 'TimeoutError'
      ? 'timed out'
      : status
        ? `answered ${status}${code ? ` ${code}` : ''}`
        : `failed: ${e?.code ?? e?.name ?? 'error'}`;
  // The cause stays with it: the CLI summarises a missing login the same way wherever it strikes.
  return Object.assign(new StoreUnavailableError(`${store} ${why} on ${what}`, status), { cause: err });
}

function unavailable(err: unknown, what: string): StoreUnavailableError | StoreRejectedError {
  return storeFailure(err, 'the delivery ledger (Table storage)', what);
}

function dateOf(header: string | null | undefined): number {
  const ms = header ? Date.parse(header) : Number.NaN;
  return Number.isNaN(ms) ? Date.now() : ms;
}

const RESERVED = new Set(['odata.metadata', 'etag', 'timestamp']);

function toStored(entity: object): StoredEntity {
  const raw = entity as Record<string, unknown> & {
    partitionKey: string;
    rowKey: string;
    etag?: string;
    timestamp?: string;
  };
  const out: StoredEntity = {
    partitionKey: raw.partitionKey,
    rowKey: raw.rowKey,
    etag: raw.etag ?? '*',
    timestampMs: Date.parse(raw.timestamp ?? '') || 0,
  };
  for (const [k, v] of Object.entries(raw)) {
    if (RESERVED.has(k) || k === 'partitionKey' || k === 'rowKey') continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}

function clean(entity: NewEntity): TableEntity<Record<string, EntityValue>> {
  const out: Record<string, EntityValue> = {};
  for (const [k, v] of Object.entries(entity))
    if (v !== undefined && k !== 'partitionKey' && k !== 'rowKey') out[k] = v;
  return { partitionKey: entity.partitionKey, rowKey: entity.rowKey, ...out };
}

/** A set-up step (create the table, the container) done once, and tried again by the next caller after a failure. */
export function onceUntilFailure(step: () => Promise<unknown>): () => Promise<void> {
  let ready: Promise<void> | undefined;
  return () =>
    (ready ??= step().then(
      () => undefined,
      (err: unknown) => {
        ready = undefined;
        throw err;
      },
    ));
}

/** Azure Table storage (or Azurite). Every call is bounded by `timeoutMs`, retries included. */
export class TableEntityStore implements EntityStore {
  constructor(
    private readonly table: TableClient,
    private readonly timeoutMs = 5000,
  ) {}

  private readonly ensureTable = onceUntilFailure(() =>
    this.table.createTable({ abortSignal: AbortSignal.timeout(this.timeoutMs) }).catch((err: unknown) => {
      throw unavailable(err, 'create table');
    }),
  );

  private options(onDate?: (ms: number) => void) {
    return {
      abortSignal: AbortSignal.timeout(this.timeoutMs),
      onResponse: (r: { headers: { get(name: string): string | undefined | null } }) =>
        onDate?.(dateOf(r.headers.get('date'))),
    };
  }

  async listPartition(partitionKey: string): Promise<{ entities: StoredEntity[]; serverNow: number }> {
    await this.ensureTable();
    let serverNow = Date.now();
    try {
      const entities: StoredEntity[] = [];
      const filter = `PartitionKey eq '${partitionKey.replace(/'/g, "''")}'`;
      for await (const e of this.table.listEntities<Record<string, unknown>>({
        queryOptions: { filter },
        ...this.options((d) => (serverNow = d)),
      })) {
        entities.push(toStored(e));
      }
      // The Date header has whole seconds; any entity's Timestamp is also a moment the server has passed.
      return { entities, serverNow: Math.max(serverNow, ...entities.map((e) => e.timestampMs)) };
    } catch (err) {
      throw unavailable(err, 'read');
    }
  }

  async insertAll(entities: NewEntity[]): Promise<boolean> {
    if (entities.length === 0) return true;
    await this.ensureTable();
    try {
      if (entities.length === 1) {
        await this.table.createEntity(clean(entities[0]!), this.options());
        return true;
      }
      const actions: Parameters<TableTransaction['createEntity']>[0][] = entities.map(clean);
      const res = await this.table.submitTransaction(
        actions.map((e) => ['create', e]),
        this.options(),
      );
      return res.status < 300;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw unavailable(err, 'insert');
    }
  }

  replace(entity: NewEntity, etag: string): Promise<Written | undefined> {
    return this.update(entity, etag, 'Replace');
  }

  merge(entity: NewEntity, etag: string): Promise<Written | undefined> {
    return this.update(entity, etag, 'Merge');
  }

  /** A conditional write: undefined when the row changed (412) or went (404) since `etag`. */
  private async update(entity: NewEntity, etag: string, mode: 'Replace' | 'Merge'): Promise<Written | undefined> {
    await this.ensureTable();
    let serverNow = Date.now();
    try {
      const res = await this.table.updateEntity(clean(entity), mode, {
        etag,
        ...this.options((d) => (serverNow = d)),
      });
      return { etag: res.etag ?? '*', serverNow };
    } catch (err) {
      const status = statusOf(err);
      if (status === 412 || status === 404) return undefined;
      throw unavailable(err, 'write');
    }
  }

  async delete(partitionKey: string, rowKey: string, etag: string): Promise<boolean> {
    await this.ensureTable();
    try {
      await this.table.deleteEntity(partitionKey, rowKey, { etag, ...this.options() });
      return true;
    } catch (err) {
      const status = statusOf(err);
      if (status === 412 || status === 404) return false;
      throw unavailable(err, 'delete');
    }
  }

  async *listOlderThan(cutoffMs: number): AsyncIterable<StoredEntity> {
    yield* this.scan(`Timestamp lt datetime'${new Date(cutoffMs).toISOString()}'`);
  }

  async *listSince(sinceMs: number): AsyncIterable<StoredEntity> {
    yield* this.scan(`Timestamp ge datetime'${new Date(sinceMs).toISOString()}'`);
  }

  private async *scan(filter: string): AsyncIterable<StoredEntity> {
    await this.ensureTable();
    try {
      for await (const e of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } }))
        yield toStored(e);
    } catch (err) {
      throw unavailable(err, 'scan');
    }
  }
}
