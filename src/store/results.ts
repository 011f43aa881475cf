// Final results, stored once ARM has given one, so that delivery never asks ARM again: logs can be
// 512 kB, more than a queue message or a Table property holds, hence a blob in the app's own storage
// account. Only the function writes here (producers can enqueue, nothing more), and a blob is found by the
// command's key, never by a name a message supplies.
import { BlobServiceClient, ContainerClient, RestError } from '@azure/storage-blob';
import type { TokenCredential } from '@azure/identity';
import type { GroupAnswer } from '../core/group';
import type { FinalAnswer } from '../core/report';
import { onceUntilFailure, storeFailure, type StoreRejectedError, type StoreUnavailableError } from './entityStore';

export const RESULT_VERSION = 1;

export interface StoredResult {
  v: number;
  clusterResourceId: string;
  commandId: string;
  firstSeenAt: string;
  /** When this app saw the final answer. */
  finalAt: string;
  waitedSeconds: number;
  answer: FinalAnswer | GroupAnswer;
}

export interface ResultStore {
  put(key: string, result: StoredResult): Promise<void>;
  /** undefined: nothing is stored under this key. */
  get(key: string): Promise<StoredResult | undefined>;
  /** The stored result with its version (the blob's ETag; `result` absent: unreadable), or undefined. */
  getVersioned(key: string): Promise<{ result?: StoredResult; etag: string } | undefined>;
  /**
   * Writes only if what is stored is still version `etag` (undefined: only if nothing is stored); false
   * when another writer came first. A group's one settled summary is written this way (fleet/summary.ts).
   */
  putIf(key: string, result: StoredResult, etag: string | undefined): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Keys of results stored before `cutoffMs` (retention). */
  listOlderThan(cutoffMs: number): AsyncIterable<string>;
}

function unavailable(err: unknown, what: string): StoreUnavailableError | StoreRejectedError {
  return storeFailure(err, 'the result store (Blob storage)', what);
}

function parseResult(text: string): StoredResult | undefined {
  try {
    const v = JSON.parse(text) as Partial<StoredResult>;
    if (
      !v ||
      typeof v !== 'object' ||
      typeof v.clusterResourceId !== 'string' ||
      typeof v.commandId !== 'string' ||
      !v.answer ||
      typeof v.answer !== 'object'
    ) {
      return undefined;
    }
    return v as StoredResult;
  } catch {
    return undefined;
  }
}

export class BlobResultStore implements ResultStore {
  constructor(
    private readonly container: ContainerClient,
    private readonly timeoutMs = 10_000,
  ) {}

  static fromConnectionString(connectionString: string, containerName: string): BlobResultStore {
    return new BlobResultStore(
      BlobServiceClient.fromConnectionString(connectionString, {
        retryOptions: { maxTries: 2, retryDelayInMs: 200 },
      }).getContainerClient(containerName),
    );
  }

  static fromServiceUri(uri: string, credential: TokenCredential, containerName: string): BlobResultStore {
    return new BlobResultStore(
      new BlobServiceClient(uri, credential, { retryOptions: { maxTries: 2, retryDelayInMs: 200 } }).getContainerClient(
        containerName,
      ),
    );
  }

  private readonly ensureContainer = onceUntilFailure(() =>
    this.container.createIfNotExists({ abortSignal: AbortSignal.timeout(this.timeoutMs) }).catch((err: unknown) => {
      throw unavailable(err, 'create container');
    }),
  );

  private name(key: string): string {
    return `results/${key}.json`;
  }

  async put(key: string, result: StoredResult): Promise<void> {
    await this.ensureContainer();
    const body = Buffer.from(JSON.stringify(result), 'utf8');
    try {
      await this.container.getBlockBlobClient(this.name(key)).upload(body, body.length, {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw unavailable(err, 'write');
    }
  }

  async get(key: string): Promise<StoredResult | undefined> {
    return (await this.getVersioned(key))?.result;
  }

  async getVersioned(key: string): Promise<{ result?: StoredResult; etag: string } | undefined> {
    await this.ensureContainer();
    try {
      const res = await this.container
        .getBlockBlobClient(this.name(key))
        .download(0, undefined, { abortSignal: AbortSignal.timeout(this.timeoutMs) });
      const chunks: Buffer[] = [];
      for await (const chunk of res.readableStreamBody ?? []) chunks.push(Buffer.from(chunk as Uint8Array));
      const result = parseResult(Buffer.concat(chunks).toString('utf8'));
      return { ...(result ? { result } : {}), etag: res.etag ?? '*' };
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return undefined;
      throw unavailable(err, 'read');
    }
  }

  async putIf(key: string, result: StoredResult, etag: string | undefined): Promise<boolean> {
    await this.ensureContainer();
    const body = Buffer.from(JSON.stringify(result), 'utf8');
    try {
      await this.container.getBlockBlobClient(this.name(key)).upload(body, body.length, {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      });
      return true;
    } catch (err) {
      // 412: changed since `etag`; 409 BlobAlreadyExists: written since it was found absent.
      if (err instanceof RestError && (err.statusCode === 412 || err.statusCode === 409)) return false;
      throw unavailable(err, 'write');
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.container
        .getBlockBlobClient(this.name(key))
        .deleteIfExists({ abortSignal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw unavailable(err, 'delete');
    }
  }

  async *listOlderThan(cutoffMs: number): AsyncIterable<string> {
    await this.ensureContainer();
    try {
      for await (const blob of this.container.listBlobsFlat({ prefix: 'results/' })) {
        const modified = blob.properties.lastModified?.getTime() ?? 0;
        const m = /^results\/([0-9a-f]{64})\.json$/.exec(blob.name);
        if (m && modified < cutoffMs) yield m[1]!;
      }
    } catch (err) {
      throw unavailable(err, 'list');
    }
  }
}
