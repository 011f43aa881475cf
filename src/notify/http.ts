// What every HTTP-based provider needs to describe an answer without its URL.
import { retryAfterSeconds } from '../core/armAnswer';
import type { SendResult } from './provider';

/** A channel's Retry-After, read by the same parser as ARM's (seconds or an HTTP date). */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  return value ? retryAfterSeconds({ 'retry-after': value }, Date.now()) : undefined;
}

/**
 * Whether a failed request may still have reached the channel: it timed out or the connection broke after
 * it was sent. (A refused or unresolvable connection never sent anything.)
 */
export function mayHaveArrived(err: unknown): boolean {
  const e = err as { name?: string; cause?: { code?: string; name?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.cause?.name === 'TimeoutError') return true;
  return !['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(e?.cause?.code ?? '');
}

/** Describes a fetch failure without the URL (undici puts none in its messages, but be sure). */
export function describeRequestError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; name?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.cause?.name === 'TimeoutError') return 'timed out';
  const code = e?.cause?.code;
  return code
    ? `network error ${code}`
    : `request failed: ${(e?.message ?? String(err)).replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>').slice(0, 200)}`;
}

/** A short, single-line excerpt of an answer's body for a reason (the redactor masks secrets later). */
export function bodyExcerpt(body: string, max = 200): string {
  return body
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
    .trim()
    .slice(0, max);
}

/** 429, 408 and 5xx: the channel is busy or down, not wrong; tried again later (after its Retry-After). */
export function transientAnswer(
  status: number,
  detail: string,
  retryAfter: number | undefined,
): Extract<SendResult, { ok: false }> | undefined {
  if (status !== 429 && status !== 408 && status < 500) return undefined;
  return {
    ok: false,
    failure: 'transient',
    detail,
    status,
    ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
  };
}
