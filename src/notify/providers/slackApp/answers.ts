// How the Slack app provider reads Slack's answers: errors that mean the target is wrong (channel,
// membership, token, scope) are permanent, with the fix; ratelimited (429 + Retry-After), 5xx and network
// errors are transient; a refused payload (invalid_blocks, msg_too_long…) falls back to the minimal form.
import { describeRequestError, mayHaveArrived } from '../../http';
import type { SendResult } from '../../provider';

const PERMANENT: Record<string, string> = {
  channel_not_found:
    'check that the channel setting holds the channel id (C…, from the channel details) and that the bot can see it (private channels: invite it)',
  not_in_channel: 'invite the bot to the channel (/invite @<app name>)',
  is_archived: 'the channel is archived: unarchive it or choose another',
  channel_is_archived: 'the channel is archived: unarchive it or choose another',
  invalid_auth: 'the bot token is not valid: reinstall the app and store its bot token (xoxb-…)',
  not_authed: 'no bot token was sent: set the token setting',
  account_inactive: 'the token belongs to a deactivated app or user: reinstall the app and store its new bot token',
  token_revoked: 'the bot token was revoked: reinstall the app and store its new bot token',
  token_expired: 'the bot token expired: turn off token rotation or store a fresh bot token',
  no_permission: 'the app may not post here: check the workspace admin settings',
  restricted_action: 'a workspace setting forbids this app from posting in this channel',
  ekm_access_denied: 'the workspace administrator suspended the ability to post',
  not_allowed_token_type: 'use the bot token (xoxb-…), not a user or app-level token',
  team_access_not_granted: 'the token has no access to this workspace: install the app there',
};
const REFUSED = new Set([
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'msg_blocks_too_long',
  'no_text',
  'too_many_attachments',
  'invalid_attachments',
  'invalid_metadata_format',
  'invalid_metadata_schema',
  'metadata_too_large',
  'metadata_must_be_sent_from_app',
  'invalid_arguments',
]);
const TRANSIENT = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
]);

/** Classifies what @slack/web-api threw for one call. */
export function classifySlackAppError(
  err: unknown,
  tokenSetting = 'the token setting',
): Extract<SendResult, { ok: false }> {
  // With rejectRateLimitedCalls the SDK wraps its rate-limit error in p-retry's AbortError.
  const e = ((err as { originalError?: unknown })?.originalError ?? err) as {
    code?: string;
    retryAfter?: number;
    statusCode?: number;
    data?: { error?: string; needed?: string };
    original?: unknown;
    message?: string;
  };
  switch (e?.code) {
    case 'slack_webapi_rate_limited_error':
      return {
        ok: false,
        failure: 'transient',
        detail: 'Slack answered 429 ratelimited',
        status: 429,
        ...(typeof e.retryAfter === 'number' ? { retryAfterSeconds: e.retryAfter } : {}),
      };
    case 'slack_webapi_platform_error': {
      const code = String(e.data?.error ?? 'unknown_error')
        .replace(/[^\w.-]/g, '')
        .slice(0, 60);
      if (code === 'missing_scope') {
        const needed = String(e.data?.needed ?? '')
          .replace(/[^\w:,.-]/g, '')
          .slice(0, 100);
        return {
          ok: false,
          failure: 'permanent',
          detail: `Slack answered missing_scope: add ${needed ? `the scope${needed.includes(',') ? 's' : ''} ${needed}` : 'the scopes chat:write, files:write, channels:history and groups:history'} to the app and reinstall it`,
        };
      }
      const fix = PERMANENT[code];
      if (fix)
        return {
          ok: false,
          failure: 'permanent',
          detail: `Slack answered ${code}: ${fix.replace('the token setting', tokenSetting)}`,
        };
      if (TRANSIENT.has(code)) return { ok: false, failure: 'transient', detail: `Slack answered ${code}` };
      // A refused payload, or an error we do not know: the minimal form tells (and fails for good if it is not the payload).
      return {
        ok: false,
        failure: 'refused',
        detail: `Slack answered ${code}${REFUSED.has(code) ? '' : ' (not a known error)'}`,
      };
    }
    case 'slack_webapi_http_error': {
      const status = e.statusCode ?? 0;
      const detail = `Slack answered HTTP ${status}`;
      if (status === 429 || status === 408 || status >= 500) return { ok: false, failure: 'transient', detail, status };
      return { ok: false, failure: 'permanent', detail: `${detail} (check SLACK_API_URL)`, status };
    }
    case 'slack_webapi_request_error':
      return {
        ok: false,
        failure: 'transient',
        detail: `Slack ${describeRequestError(e.original)}`,
        mayHaveArrived: mayHaveArrived(e.original),
      };
    default:
      // The upload to Slack's file URL, or an error before any request.
      return {
        ok: false,
        failure: 'transient',
        detail: `Slack file upload failed: ${describeRequestError(err)}`,
        mayHaveArrived: true,
      };
  }
}
