// The queue semantics the Functions host applies, read from host.json: the worker, the handler's log lines
// and the host itself obey one file.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface QueueHostSettings {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  visibilityTimeoutSeconds: number;
  maxDequeueCount: number;
  messageEncoding: 'none' | 'base64';
}

/** "hh:mm:ss" (host.json TimeSpan) to milliseconds. */
function parseTimeSpan(value: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(value.trim());
  if (!m) throw new Error(`not a TimeSpan: ${value}`);
  const [, days, h, min, s, frac] = m;
  return (
    ((Number(days ?? 0) * 24 + Number(h)) * 3600 + Number(min) * 60 + Number(s)) * 1000 +
    Math.round(Number(`0.${frac ?? 0}`) * 1000)
  );
}

/** host.json of the app: where the host says the app is (AzureWebJobsScriptRoot), else the nearest one up. */
export function findHostJson(start = __dirname): string {
  const root = process.env.AzureWebJobsScriptRoot;
  if (root && existsSync(join(root, 'host.json'))) return join(root, 'host.json');
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'host.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error('host.json not found above ' + start);
  }
}

export function readQueueHostSettings(path = findHostJson()): QueueHostSettings {
  const host = JSON.parse(readFileSync(path, 'utf8')) as { extensions?: { queues?: Record<string, unknown> } };
  const q = host.extensions?.queues ?? {};
  const batchSize = Number(q.batchSize ?? 16);
  return {
    batchSize,
    newBatchThreshold: Number(q.newBatchThreshold ?? Math.floor(batchSize / 2)),
    maxPollingIntervalMs: parseTimeSpan(String(q.maxPollingInterval ?? '00:01:00')),
    visibilityTimeoutSeconds: parseTimeSpan(String(q.visibilityTimeout ?? '00:00:00')) / 1000,
    maxDequeueCount: Number(q.maxDequeueCount ?? 5),
    messageEncoding: q.messageEncoding === 'none' ? 'none' : 'base64',
  };
}
