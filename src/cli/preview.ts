// `aks-command-notifier preview`: the exact payloads each target would receive, for a sample report.
// Offline: it renders with the providers' own code and sends nothing. Without configured targets it shows
// one example target of every kind, built from the examples each provider declares for its options.
import { readFileSync } from 'node:fs';
import { loadConfig, type Env } from '../config';
import { OUTCOMES, type Outcome } from '../core/report';
import { renderOptions, wants, type Form, type Target } from '../notify/provider';
import { PROVIDERS } from '../notify/registry';
import { sampleReport, sampleRunningReport } from '../notify/samples';
import { settingPrefix } from '../settings/targets';

export interface PreviewOptions {
  outcome: string;
  targets?: string[];
  logsFile?: string;
  text?: boolean;
  form?: Form;
}

const LOCAL_STORAGE = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };

/** One named target per kind, called after its kind, with the example value of each option. */
function exampleEnv(): Env {
  const env: Env = { ...LOCAL_STORAGE, NOTIFY_TARGETS: PROVIDERS.map((p) => p.kind).join(',') };
  for (const p of PROVIDERS) {
    const prefix = settingPrefix(p.kind);
    env[`${prefix}KIND`] = p.kind;
    for (const [option, spec] of Object.entries(p.options)) env[`${prefix}${option}`] = spec.example;
  }
  return env;
}

function isConfigured(env: Env): boolean {
  return !!env.NOTIFY_TARGETS || PROVIDERS.some((p) => p.zeroConfig?.settings.URL && env[p.zeroConfig.settings.URL]);
}

export function runPreview(
  options: PreviewOptions,
  out: Pick<NodeJS.WritableStream, 'write'> = process.stdout,
  env: Env = process.env,
): void {
  if (!(OUTCOMES as readonly string[]).includes(options.outcome)) {
    throw new Error(`--outcome must be one of ${OUTCOMES.join(', ')}`);
  }
  const config = loadConfig(isConfigured(env) ? { ...LOCAL_STORAGE, ...env } : exampleEnv());
  const all = config.targets;
  const chosen = options.targets
    ? options.targets.map((n) => all.find((t) => t.name === n) ?? failUnknown(n, all))
    : all;
  const logs = options.logsFile ? readFileSync(options.logsFile, 'utf8') : undefined;
  const report = sampleReport(options.outcome as Outcome, logs);
  const form = options.form ?? 'full';
  const show = (target: Target, r: typeof report) => {
    const payload = target.provider.render(r, renderOptions(target, config.armEndpoint), form);
    out.write(`${options.text ? target.provider.asText(payload) : JSON.stringify(payload, null, 2)}\n`);
  };
  for (const target of chosen) {
    const wanted = wants(target, report.outcome);
    // A live message: first posted while the command runs, then updated in place with the result.
    const running = target.provider.liveMessage && wants(target, undefined) ? sampleRunningReport() : undefined;
    if (running) {
      out.write(`// target "${target.name}" (${target.kind}): the message while the command runs\n`);
      show(target, running);
    }
    const what = `${running ? 'the same message, updated with the result' : `${form} form`}${target.provider.threadAttachment ? '; logs it cuts follow whole in its thread' : ''}`;
    out.write(
      `// target "${target.name}" (${target.kind}, ${what})${wanted ? '' : ': not sent for this outcome (notify on failure only)'}\n`,
    );
    show(target, report);
  }
}

function failUnknown(name: string, all: Target[]): never {
  throw new Error(`unknown target "${name}"; configured: ${all.map((t) => t.name).join(', ')}`);
}
