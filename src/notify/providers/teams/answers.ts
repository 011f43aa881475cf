// How a Teams webhook's answer is read, by the kind of endpoint: Workflows (*.logic.azure.com,
// *.powerplatform.com, and any other host) accept with 202 and run the flow later (200 when a flow answers
// itself); a legacy connector (*.webhook.office.com, outlook.office.com) answers 200 with the body "1", and
// 200 with an error text when the post failed. Anything else is a failure, its body (capped) in the reason.
import { bodyExcerpt, transientAnswer } from '../../http';
import type { SendResult } from '../../provider';

export type TeamsEndpointKind = 'workflows' | 'connector';

export function teamsEndpointKind(url: string): TeamsEndpointKind {
  const host = new URL(url).hostname.toLowerCase();
  return host.endsWith('.webhook.office.com') || host === 'outlook.office.com' || host === 'outlook.office365.com'
    ? 'connector'
    : 'workflows';
}

/** Classifies an answer from a Teams endpoint of the given kind. */
export function classifyTeamsAnswer(
  kind: TeamsEndpointKind,
  status: number,
  body: string,
  retryAfter?: number,
): SendResult {
  const excerpt = bodyExcerpt(body);
  if (kind === 'workflows' && (status === 202 || status === 200)) return { ok: true };
  if (kind === 'connector' && status === 200) {
    if (body.trim() === '1') return { ok: true };
    // A connector reports its failures inside a 200: "Microsoft Teams endpoint returned HTTP error 413" etc.
    const inner = /HTTP error (\d{3})/i.exec(body)?.[1];
    const detail = `Teams connector answered 200 with "${excerpt}"`;
    if (inner === '429' || (inner && Number(inner) >= 500)) return { ok: false, failure: 'transient', detail };
    if (inner === '413' || inner === '400') return { ok: false, failure: 'refused', detail };
    return { ok: false, failure: 'permanent', detail };
  }
  const detail = `Teams answered ${status}${excerpt ? `: ${excerpt}` : ''}`;
  const busy = transientAnswer(status, detail, retryAfter);
  if (busy) return busy;
  if (status === 400 || status === 413) return { ok: false, failure: 'refused', detail, status };
  if (status >= 400)
    return { ok: false, failure: [401, 403, 404, 410].includes(status) ? 'permanent' : 'refused', detail, status };
  // A 2xx or 3xx that this kind of endpoint does not give for a post it took.
  return {
    ok: false,
    failure: 'permanent',
    detail: `${detail} (not what a ${kind === 'connector' ? 'connector' : 'Workflows'} endpoint answers to a post it took)`,
    status,
  };
}
