// One notifier per provider behind one interface; retries live in delivery.ts, not here.
import type { TargetConfig } from '../config';
import { isFailure, type CommandReport } from '../core/report';
import { renderSlack } from './slackMessage';
import { sendSlack } from './slack';
import { renderTeams } from './teamsCard';
import { sendTeams } from './teams';

export { DeliveryError } from './errors';

export interface Notifier {
  readonly target: TargetConfig;
  wants(report: CommandReport): boolean;
  render(report: CommandReport): unknown;
  /** One attempt. Throws DeliveryError. */
  send(payload: unknown): Promise<void>;
}

export interface NotifierOptions {
  armEndpoint: string;
  timeoutMs: number;
}

export function createNotifier(target: TargetConfig, options: NotifierOptions): Notifier {
  const renderOptions = {
    armEndpoint: options.armEndpoint,
    includeLogs: target.includeLogs,
    ...(target.mentionOnFailure ? { mention: target.mentionOnFailure } : {}),
  };
  return {
    target,
    wants: (report) => target.notifyOn === 'all' || isFailure(report.outcome),
    render: (report) => (target.kind === 'slack' ? renderSlack(report, renderOptions) : renderTeams(report, renderOptions)),
    send: (payload) =>
      target.kind === 'slack'
        ? sendSlack(target.url, payload as Parameters<typeof sendSlack>[1], options.timeoutMs)
        : sendTeams(target.url, payload, options.timeoutMs),
  };
}

