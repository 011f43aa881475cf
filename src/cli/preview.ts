// `aks-command-notifier preview`: the exact payloads each target would receive, for a sample report.
// Offline: it renders with the providers' own code and sends nothing.
import { readFileSync } from 'node:fs';
import { DEFAULTS, loadConfig } from '../config';
import { ClusterScope } from '../core/scope';
import { OUTCOMES, type Outcome } from '../core/report';
import { renderOptions, wants, type Form, type Target } from '../notify/provider';
import { slackWebhook } from '../notify/providers/slack';
import { slackApp } from '../notify/providers/slackApp';
import { teams } from '../notify/providers/teams';
import { sampleReport } from '../notify/samples';

const EXAMPLES: Target[] = [
  {
    name: 'slack',
    kind: 'slack',
    provider: slackWebhook,
    settings: { url: 'https://hooks.slack.com/services/EXAMPLE', urlSetting: 'SLACK_WEBHOOK_URL' },
    notifyOn: 'all',
    includeLogs: true,
    scope: new ClusterScope([]),
  },
  {
    name: 'slack-app',
    kind: 'slack-app',
    provider: slackApp,
    settings: {
      channel: 'C0123456789',
      token: 'xoxb-example',
      apiUrl: DEFAULTS.SLACK_API_URL,
      channelSetting: 'NOTIFY_TARGET_SLACK_APP_CHANNEL',
      tokenSetting: 'NOTIFY_TARGET_SLACK_APP_TOKEN',
    },
    notifyOn: 'all',
    includeLogs: true,
    scope: new ClusterScope([]),
  },
  {
    name: 'teams',
    kind: 'teams',
    provider: teams,
    settings: { url: 'https://example.invalid/workflows', urlSetting: 'TEAMS_WEBHOOK_URL' },
    notifyOn: 'all',
    includeLogs: true,
    scope: new ClusterScope([]),
  },
] as Target[];

export interface PreviewOptions {
  outcome: string;
  targets?: string[];
  logsFile?: string;
  text?: boolean;
  form?: Form;
}

export function runPreview(options: PreviewOptions, out: Pick<NodeJS.WritableStream, 'write'> = process.stdout): void {
  if (!(OUTCOMES as readonly string[]).includes(options.outcome)) {
    throw new Error(`--outcome must be one of ${OUTCOMES.join(', ')}`);
  }
  const configured = process.env.SLACK_WEBHOOK_URL || process.env.TEAMS_WEBHOOK_URL || process.env.NOTIFY_TARGETS;
  const config = configured
    ? loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...process.env })
    : undefined;
  const all = config?.targets ?? EXAMPLES;
  const chosen = options.targets
    ? options.targets.map((n) => all.find((t) => t.name === n) ?? failUnknown(n, all))
    : all;
  const logs = options.logsFile ? readFileSync(options.logsFile, 'utf8') : undefined;
  const report = sampleReport(options.outcome as Outcome, logs);
  const form = options.form ?? 'full';
  const show = (target: Target, r: typeof report) => {
    const payload = target.provider.render(
      r,
      renderOptions(target, config?.armEndpoint ?? DEFAULTS.ARM_ENDPOINT),
      form,
    );
    out.write(`${options.text ? target.provider.asText(payload) : JSON.stringify(payload, null, 2)}\n`);
  };
  for (const target of chosen) {
    const wanted = wants(target, report.outcome);
    // A live message: first posted while the command runs, then updated in place with the result.
    const running = target.provider.liveMessage && wants(target, 'running') ? sampleReport('running') : undefined;
    if (running) {
      out.write(`// target "${target.name}" (${target.kind}): the message while the command runs\n`);
      show(target, running);
    }
    const what = running ? 'the same message, updated with the result' : `${form} form`;
    out.write(
      `// target "${target.name}" (${target.kind}, ${what})${wanted ? '' : ': not sent for this outcome (notify on failure only)'}\n`,
    );
    show(target, report);
  }
}

function failUnknown(name: string, all: Target[]): never {
  throw new Error(`unknown target "${name}"; configured: ${all.map((t) => t.name).join(', ')}`);
}
