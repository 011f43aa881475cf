// What an answer from GET commandResults means for us. Pure: the ARM adapter hands in status, headers, body.

export interface RunCommandResult {
  id?: string;
  provisioningState: string;
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  logs?: string;
  reason?: string;
}

export interface CloudErrorInfo {
  code?: string;
  message?: string;
}

export type ArmAnswer =
  | { kind: 'running'; provisioningState: string; retryAfterSeconds?: number }
  | { kind: 'finished'; result: RunCommandResult }
  | { kind: 'notFound'; error?: CloudErrorInfo }
  | { kind: 'forbidden'; status: number; error?: CloudErrorInfo }
  | { kind: 'transient'; detail: string; status?: number; retryAfterSeconds?: number; throttled: boolean }
  | { kind: 'rejected'; status: number; detail: string; error?: CloudErrorInfo };

/** An answer plus what ARM says is left of the subscription's read budget. */
export type ArmRead = ArmAnswer & { remainingReads?: number };

export function remainingReads(headers: Record<string, string | undefined>): number | undefined {
  const v = headers['x-ms-ratelimit-remaining-subscription-reads'];
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
}

export interface RawArmResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  bodyText: string;
}

const FINAL_STATES = new Set(['succeeded', 'failed', 'canceled', 'cancelled']);

function isFinalState(state: string): boolean {
  return FINAL_STATES.has(state.trim().toLowerCase());
}

/** Retry-After in seconds (delta-seconds or an HTTP date), or x-ms-retry-after-ms. */
export function retryAfterSeconds(headers: Record<string, string | undefined>, nowMs: number): number | undefined {
  const ms = headers['x-ms-retry-after-ms'] ?? headers['retry-after-ms'];
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Number(ms) / 1000;
  const value = headers['retry-after']?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  if (!Number.isNaN(date)) return Math.max(0, (date - nowMs) / 1000);
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function cloudError(body: unknown): CloudErrorInfo | undefined {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (!error || typeof error !== 'object') return undefined;
  const { code, message } = error as Record<string, unknown>;
  return {
    ...(typeof code === 'string' ? { code: code.slice(0, 200) } : {}),
    ...(typeof message === 'string' ? { message: message.slice(0, 1000) } : {}),
  };
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function classifyArmResponse(res: RawArmResponse, nowMs: number): ArmAnswer {
  const retryAfter = retryAfterSeconds(res.headers, nowMs);
  const withRetryAfter = retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {};
  const body = res.bodyText ? parseJson(res.bodyText) : undefined;

  if (res.status === 202) {
    const state = optionalString(
      (body as { properties?: { provisioningState?: unknown } } | undefined)?.properties?.provisioningState,
    );
    return { kind: 'running', provisioningState: state ?? 'Running', ...withRetryAfter };
  }
  if (res.status === 200) {
    const props = (body as { properties?: unknown } | undefined)?.properties;
    if (body === undefined)
      return {
        kind: 'transient',
        detail: 'ARM answered 200 with a body that is not JSON',
        status: 200,
        throttled: false,
      };
    if (!props || typeof props !== 'object') {
      return { kind: 'transient', detail: 'ARM answered 200 without properties', status: 200, throttled: false };
    }
    const p = props as Record<string, unknown>;
    const state = optionalString(p.provisioningState);
    if (!state)
      return { kind: 'transient', detail: 'ARM answered 200 without provisioningState', status: 200, throttled: false };
    if (!isFinalState(state)) return { kind: 'running', provisioningState: state, ...withRetryAfter };
    const exitCode = typeof p.exitCode === 'number' && Number.isInteger(p.exitCode) ? p.exitCode : undefined;
    const id = optionalString((body as { id?: unknown }).id);
    const result: RunCommandResult = {
      provisioningState: state,
      ...(id !== undefined ? { id } : {}),
      ...(exitCode !== undefined ? { exitCode } : {}),
    };
    for (const key of ['startedAt', 'finishedAt', 'logs', 'reason'] as const) {
      const v = optionalString(p[key]);
      if (v !== undefined) result[key] = v;
    }
    return { kind: 'finished', result };
  }
  const error = cloudError(body);
  const withError = error ? { error } : {};
  if (res.status === 404) return { kind: 'notFound', ...withError };
  if (res.status === 401 || res.status === 403) return { kind: 'forbidden', status: res.status, ...withError };
  if (res.status === 429)
    return {
      kind: 'transient',
      detail: 'ARM throttled the read (429)',
      status: 429,
      throttled: true,
      ...withRetryAfter,
    };
  if (res.status === 408 || res.status >= 500) {
    return {
      kind: 'transient',
      detail: `ARM answered ${res.status}${error?.code ? ` ${error.code}` : ''}`,
      status: res.status,
      throttled: res.status === 503,
      ...withRetryAfter,
    };
  }
  return {
    kind: 'rejected',
    status: res.status,
    detail: `ARM answered ${res.status}${error?.code ? ` ${error.code}` : ''}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}`,
    ...withError,
  };
}

/** What a read that is not final says, for a log line: the state, or why the read failed. */
export function describeRead(answer: ArmRead): string {
  return answer.kind === 'running'
    ? answer.provisioningState
    : answer.kind === 'transient'
      ? answer.detail
      : answer.kind;
}
