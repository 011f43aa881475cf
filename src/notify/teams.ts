// Teams Workflows webhook: 202 Accepted (or 200 from legacy connectors) means taken; the flow runs later.
import { DeliveryError, describeRequestError, isTransientStatus, parseRetryAfter } from './errors';

export async function sendTeams(url: string, payload: unknown, timeoutMs: number): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
  } catch (err) {
    throw new DeliveryError(`Teams ${describeRequestError(err)}`, true);
  }
  if (response.status >= 200 && response.status < 300) return;
  throw new DeliveryError(
    `Teams answered ${response.status}`,
    isTransientStatus(response.status),
    response.status,
    parseRetryAfter(response.headers.get('retry-after')),
  );
}
