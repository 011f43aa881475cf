// Slack incoming webhooks (@slack/webhook). App webhooks post to one channel each and ignore overrides.
// Answers: 2xx taken; 429 (Retry-After) and 5xx, timeouts, network errors transient; 400 invalid_blocks,
// invalid_payload, no_text, msg_too_long and 413 refuse the payload; 401/403/404/410 (no_service,
// channel_not_found, channel_is_archived, action_prohibited, invalid_token…) mean the target is wrong.
import { IncomingWebhook, type IncomingWebhookSendArguments } from '@slack/webhook';
import { webhookChannel, type WebhookSettings } from '../webhookUrl';
import { validateSlackMention } from '../slack/mention';
import { renderSlack, slackAsText, type SlackPayload } from '../slack/blocks';
import { bodyExcerpt, describeRequestError, mayHaveArrived, parseRetryAfter, transientAnswer } from '../http';
import type { ChatProvider, SendResult } from '../provider';

export type SlackWebhookSettings = WebhookSettings;

const REFUSED = new Set([
  'invalid_blocks',
  'invalid_payload',
  'no_text',
  'msg_too_long',
  'msg_blocks_too_long',
  'too_many_attachments',
  'invalid_attachments',
]);

/** Classifies a webhook answer: status plus Slack's plain-text error code. */
function classifySlackAnswer(status: number, body: string, retryAfter?: number): SendResult {
  if (status >= 200 && status < 300) return { ok: true };
  const code = body
    .trim()
    .slice(0, 100)
    .replace(/[^\w.-]/g, '');
  const detail = `Slack answered ${status}${code ? ` ${code}` : ''}`;
  const busy = transientAnswer(status, detail, retryAfter);
  if (busy) return busy;
  if (status === 413 || REFUSED.has(code)) return { ok: false, failure: 'refused', detail, status };
  if ([401, 403, 404, 410].includes(status)) return { ok: false, failure: 'permanent', detail, status };
  // Another 4xx: perhaps the payload; the minimal form tells.
  return { ok: false, failure: 'refused', detail: `${detail}${code ? '' : `: ${bodyExcerpt(body)}`}`, status };
}

export const slackWebhook: ChatProvider<SlackWebhookSettings> = {
  ...webhookChannel(
    'slack',
    'The Slack incoming webhook URL (https://hooks.slack.com/services/…).',
    'https://hooks.slack.com/services/EXAMPLE',
  ),
  validateMention: validateSlackMention,
  render: (message, options, form) => renderSlack(message, options, form),
  asText: slackAsText,
  maxSendMs: (timeoutMs) => timeoutMs + 1000,

  async send(settings, payload, ctx): Promise<SendResult> {
    let status = 0;
    let retryAfter: string | null = null;
    let body = '';
    const webhook = new IncomingWebhook(settings.url, {
      timeout: ctx.timeoutMs,
      fetch: async (input, init) => {
        const response = await fetch(input, { ...init, redirect: 'error', signal: AbortSignal.timeout(ctx.timeoutMs) });
        status = response.status;
        retryAfter = response.headers.get('retry-after');
        body = await response
          .clone()
          .text()
          .catch(() => '');
        return response;
      },
    });
    try {
      await webhook.send(payload as SlackPayload as unknown as IncomingWebhookSendArguments);
      return { ok: true };
    } catch (err) {
      const e = err as { code?: string; statusCode?: number; body?: string; original?: unknown };
      if (e.code === 'slack_webhook_http_error' && typeof e.statusCode === 'number') {
        return classifySlackAnswer(
          e.statusCode,
          typeof e.body === 'string' ? e.body : body,
          parseRetryAfter(retryAfter),
        );
      }
      if (status) return classifySlackAnswer(status, body, parseRetryAfter(retryAfter));
      return {
        ok: false,
        failure: 'transient',
        detail: `Slack ${describeRequestError(e.original ?? err)}`,
        mayHaveArrived: mayHaveArrived(e.original ?? err),
      };
    }
  },
};
