// Webhook failures, described without their URLs.
import { retryAfterSeconds } from '../core/armAnswer';

/** A failed webhook call, described without its URL. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly transient: boolean,
    readonly status?: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Classifies an HTTP status from a webhook: 429, 408 and 5xx are worth another try, other 4xx are not. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** A webhook's Retry-After, read by the same parser as ARM's (seconds or an HTTP date). */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  return value ? retryAfterSeconds({ 'retry-after': value }, Date.now()) : undefined;
}

/** Describes a fetch failure without the URL (undici puts none in its messages, but be sure). */
export function describeRequestError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  const code = e?.cause?.code;
  return code ? `network error ${code}` : `request failed: ${(e?.message ?? String(err)).replace(/https?:\/\/\S+/g, '<url>')}`;
}
