// Slack through @slack/webhook. It does not expose Retry-After, so a fetch wrapper reads it.
import { IncomingWebhook, type IncomingWebhookSendArguments } from '@slack/webhook';
import { DeliveryError, describeRequestError, isTransientStatus, parseRetryAfter } from './errors';

export async function sendSlack(url: string, payload: IncomingWebhookSendArguments, timeoutMs: number): Promise<void> {
  let retryAfter: string | null = null;
  const webhook = new IncomingWebhook(url, {
    timeout: timeoutMs,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      retryAfter = response.headers.get('retry-after');
      return response;
    },
  });
  try {
    await webhook.send(payload);
  } catch (err) {
    const e = err as { code?: string; statusCode?: number; body?: string; original?: unknown };
    if (e.code === 'slack_webhook_http_error' && typeof e.statusCode === 'number') {
      const slackError = (e.body ?? '').trim().slice(0, 100).replace(/[^\w.-]/g, '');
      const after = parseRetryAfter(retryAfter);
      throw new DeliveryError(
        `Slack answered ${e.statusCode}${slackError ? ` ${slackError}` : ''}`,
        isTransientStatus(e.statusCode),
        e.statusCode,
        after,
      );
    }
    throw new DeliveryError(`Slack ${describeRequestError(e.original ?? err)}`, true);
  }
}
