// `aks-command-notifier preview`: the exact payloads each target would receive, for a sample report.
import { readFileSync } from 'node:fs';
import { DEFAULTS, loadConfig, type TargetConfig } from '../config';
import { OUTCOMES, type Outcome } from '../core/report';
import { createNotifier } from '../notify/notifier';
import { sampleReport } from '../notify/samples';
import { slackAsText, teamsAsText } from '../dev/webhookReceivers';

const EXAMPLES: TargetConfig[] = [
  { name: 'slack', kind: 'slack', url: 'https://hooks.slack.com/services/EXAMPLE', urlSetting: 'SLACK_WEBHOOK_URL', notifyOn: 'all', includeLogs: true },
  { name: 'teams', kind: 'teams', url: 'https://example.invalid/workflows', urlSetting: 'TEAMS_WEBHOOK_URL', notifyOn: 'all', includeLogs: true },
];

export function runPreview(options: { outcome: string; targets?: string[]; logsFile?: string; text?: boolean }, out: Pick<NodeJS.WritableStream, 'write'> = process.stdout): void {
  if (!(OUTCOMES as readonly string[]).includes(options.outcome)) {
    throw new Error(`--outcome must be one of ${OUTCOMES.join(', ')}`);
  }
  const configured = process.env.SLACK_WEBHOOK_URL || process.env.TEAMS_WEBHOOK_URL || process.env.NOTIFY_TARGETS;
  const config = configured ? loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...process.env }) : undefined;
  const all = config?.targets ?? EXAMPLES;
  const chosen = options.targets ? options.targets.map((n) => all.find((t) => t.name === n) ?? failUnknown(n, all)) : all;
  const logs = options.logsFile ? readFileSync(options.logsFile, 'utf8') : undefined;
  const report = sampleReport(options.outcome as Outcome, logs);
  for (const target of chosen) {
    const notifier = createNotifier(target, { armEndpoint: config?.armEndpoint ?? DEFAULTS.ARM_ENDPOINT, timeoutMs: 1000 });
    const wanted = notifier.wants(report);
    out.write(`// target "${target.name}" (${target.kind})${wanted ? '' : ': not sent for this outcome (notify on failure only)'}\n`);
    const payload = notifier.render(report);
    out.write(`${options.text ? (target.kind === 'slack' ? slackAsText(payload) : teamsAsText(payload)) : JSON.stringify(payload, null, 2)}\n`);
  }
}

function failUnknown(name: string, all: TargetConfig[]): never {
  throw new Error(`unknown target "${name}"; configured: ${all.map((t) => t.name).join(', ')}`);
}
