// Microsoft Teams: an Adaptive Card 1.4 (1.5+ fail in Workflows) in the message envelope, posted to a
// Workflows webhook ("When a Teams webhook request is received"), or to a legacy Office 365 connector.
// Answers: answers.ts beside this file; the card, shared with the Teams app: notify/teams/card.ts.
import { describeRequestError, mayHaveArrived, parseRetryAfter } from '../../http';
import type { ChatProvider, SendResult } from '../../provider';
import { webhookChannel, type WebhookSettings } from '../../webhookUrl';
import { classifyTeamsAnswer, teamsEndpointKind } from './answers';
import { renderTeams, teamsAsText } from '../../teams/card';
import { validateTeamsMention } from '../../teams/mention';

export type TeamsSettings = WebhookSettings;

export const teams: ChatProvider<TeamsSettings> = {
  ...webhookChannel(
    'teams',
    'The Teams Workflows webhook URL ("When a Teams webhook request is received").',
    'https://example.invalid/workflows',
  ),
  validateMention: validateTeamsMention,
  render: (message, options, form) => renderTeams(message, options, form),
  asText: teamsAsText,
  maxSendMs: (timeoutMs) => timeoutMs + 1000,

  async send(settings, payload, ctx): Promise<SendResult> {
    let response: Response;
    let body: string;
    try {
      response = await fetch(settings.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        redirect: 'error',
        signal: AbortSignal.timeout(ctx.timeoutMs),
      });
      body = await response.text();
    } catch (err) {
      return {
        ok: false,
        failure: 'transient',
        detail: `Teams ${describeRequestError(err)}`,
        mayHaveArrived: mayHaveArrived(err),
      };
    }
    return classifyTeamsAnswer(
      teamsEndpointKind(settings.url),
      response.status,
      body,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  },
};
