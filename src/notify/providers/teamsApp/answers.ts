// How the Teams app provider reads the Bot Connector's answers (through the Teams SDK's client, which throws
// axios errors): each refusal that means the target is wrong names its fix; 429, 412, 502, 504 (the codes
// Microsoft says to retry), other 5xx and network errors are transient, after Retry-After; a refused
// payload (413 MessageSizeTooBig, 400) falls back to the minimal card.
import { bodyExcerpt, parseRetryAfter } from '../../http';
import type { SendResult } from '../../provider';

export type Step = 'create' | 'update' | 'reply';

/** The code of the error our own guard throws for a URL outside the bot service (nothing was sent). */
export const OUTSIDE_SERVICE = 'ERR_OUTSIDE_BOT_SERVICE';

type Failure = Extract<SendResult, { ok: false }>;

interface AxiosLike {
  isAxiosError?: boolean;
  code?: string;
  message?: string;
  response?: { status: number; data?: unknown; headers?: Record<string, unknown> };
}

/** The error code and message the Bot Connector puts in its body ({error:{code,message}}), made safe to log. */
function errorOf(data: unknown): { code: string; message: string } {
  const e = (data as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof e?.code === 'string' ? e.code.replace(/[^\w.-]/g, '').slice(0, 60) : '';
  const message =
    typeof e?.message === 'string' ? bodyExcerpt(e.message, 200) : typeof data === 'string' ? bodyExcerpt(data) : '';
  return { code, message };
}

const NOT_INSTALLED =
  'install the app in the team that holds the channel (Teams: the team → Manage team → Apps → Upload an app, the package from npm run teams-app)';

/** Whether an error came with no answer although the request may have been sent (a timeout, a reset). */
function mayHaveArrived(code: string | undefined): boolean {
  const tls =
    /^(CERT_|ERR_TLS_|ERR_SSL_)|^(EPROTO|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/;
  if (tls.test(code ?? '')) return false;
  return !['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_INVALID_URL'].includes(
    code ?? '',
  );
}

/** Classifies what one Bot Connector call threw, naming the settings to check. */
export function classifyBotError(
  err: unknown,
  step: Step,
  settings: { channelSetting: string; tenantSetting: string; serviceUrlSetting: string },
): Failure {
  const { channelSetting, tenantSetting, serviceUrlSetting } = settings;
  const e = err as AxiosLike;
  const res = e?.response;
  if (e?.code === OUTSIDE_SERVICE)
    return {
      ok: false,
      failure: 'permanent',
      detail: `a call outside the bot service in ${serviceUrlSetting} was refused`,
    };
  if (!res) {
    const code = typeof e?.code === 'string' ? e.code.replace(/[^\w]/g, '').slice(0, 40) : undefined;
    const timedOut = code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED';
    return {
      ok: false,
      failure: 'transient',
      detail: `the bot service ${timedOut ? 'timed out' : code ? `network error ${code}` : 'request failed'}`,
      mayHaveArrived: mayHaveArrived(code),
    };
  }
  const status = res.status;
  const { code, message } = errorOf(res.data);
  const said = `the bot service answered ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;
  const retryAfter = parseRetryAfter(String(res.headers?.['retry-after'] ?? '') || undefined);
  if (status === 429 || status === 412 || status === 408 || status >= 500) {
    // A gateway that gave up (502, 504) or failed (500) may have passed the new thread on.
    const unsure = step === 'create' && [500, 502, 504].includes(status);
    return {
      ok: false,
      failure: 'transient',
      detail: said,
      status,
      ...(unsure ? { mayHaveArrived: true } : {}),
      ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
    };
  }
  if (status === 401)
    return {
      ok: false,
      failure: 'permanent',
      detail: `${said} (the bot service refused the app's token: the Azure Bot's app id must be the app's identity, AZURE_CLIENT_ID, registered single-tenant in this tenant)`,
      status,
    };
  if (status === 403 && code !== 'BotNotInConversationRoster')
    return {
      ok: false,
      failure: 'permanent',
      detail: `${said} (check that ${tenantSetting} names the team's tenant, or is unset in the app's own tenant, and that the app is installed in the team)`,
      status,
    };
  if (status === 403)
    return {
      ok: false,
      failure: 'permanent',
      detail:
        step === 'create'
          ? `${said} (the bot is not in the team's roster: ${NOT_INSTALLED})`
          : `${said} (the app was removed from the team after its card was posted: ${NOT_INSTALLED}; 'redeliver' then posts a new card)`,
      status,
    };
  if (status === 404)
    return {
      ok: false,
      failure: 'permanent',
      detail: `${said} (no such conversation: check that ${channelSetting} holds the channel's id, 19:…@thread.tacv2 from "Get link to channel", and that ${serviceUrlSetting} is your cloud's bot service)`,
      status,
    };
  if (status === 413 || status === 400)
    return { ok: false, failure: 'refused', detail: `${said} (the bot service refused the card)`, status };
  return { ok: false, failure: 'permanent', detail: `${said} (check ${serviceUrlSetting})`, status };
}
