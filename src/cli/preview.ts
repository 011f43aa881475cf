// `aks-command-notifier preview`: the exact payloads each target would receive, for a sample report.
// Offline: it renders with the providers' own code and sends nothing. Without configured targets it shows
// one example target of every kind, built from the examples each provider declares for its options.
import { readFileSync } from 'node:fs';
import { loadConfig, type Env } from '../config';
import { MessageError } from '../core/message';
import { isFailure, OUTCOMES, type Outcome } from '../core/report';
import { compose } from '../notify/compose';
import { payloadFor, wants, type Form, type Target } from '../notify/provider';
import { PROVIDERS } from '../notify/registry';
import { sampleReport, sampleRunningReport } from '../notify/samples';
import { settingPrefix } from '../settings/targets';

export interface PreviewOptions {
  outcome: string;
  targets?: string[];
  logsFile?: string;
  text?: boolean;
  form?: Form;
  /** json: every payload in one JSON document on stdout. */
  output?: 'text' | 'json';
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
    throw new MessageError(`--outcome must be one of ${OUTCOMES.join(', ')}`);
  }
  const config = loadConfig(isConfigured(env) ? { ...LOCAL_STORAGE, ...env } : exampleEnv());
  const all = config.targets;
  const chosen = options.targets
    ? options.targets.map((n) => all.find((t) => t.name === n) ?? failUnknown(n, all))
    : all;
  const logs = options.logsFile ? readFileSync(options.logsFile, 'utf8') : undefined;
  const report = sampleReport(options.outcome as Outcome, logs);
  const form = options.form ?? 'full';
  // --output json: one JSON document, every payload in it (stdout stays pure JSON); else labelled payloads.
  const json: {
    target: string;
    kind: string;
    message: 'running' | 'result';
    form: string;
    sent: boolean;
    payload: unknown;
  }[] = [];
  const show = (target: Target, r: typeof report, label: string, sent: boolean) => {
    const payload = payloadFor(target, compose(r, config.armEndpoint), form);
    if (options.output === 'json') {
      json.push({
        target: target.name,
        kind: target.kind,
        message: r.outcome ? 'result' : 'running',
        form,
        sent,
        payload,
      });
      return;
    }
    out.write(`// ${label}\n`);
    out.write(`${options.text ? target.provider.asText(payload) : JSON.stringify(payload, null, 2)}\n`);
  };
  for (const target of chosen) {
    const wanted = wants(target, isFailure(report.outcome));
    // A live message: first posted while the command runs, then updated in place with the result.
    const running = target.provider.liveMessage && wants(target, false) ? sampleRunningReport() : undefined;
    if (running)
      show(target, running, `target "${target.name}" (${target.kind}): the message while the command runs`, true);
    const what = `${running ? 'the same message, updated with the result' : `${form} form`}${target.provider.threadAttachment ? '; logs it cuts follow whole in its thread' : ''}`;
    show(
      target,
      report,
      `target "${target.name}" (${target.kind}, ${what})${wanted ? '' : ': not sent for this outcome (notify on failure only)'}`,
      wanted,
    );
  }
  if (options.output === 'json') out.write(`${JSON.stringify(json, null, 2)}\n`);
}

function failUnknown(name: string, all: Target[]): never {
  throw new MessageError(`unknown target "${name}"; configured: ${all.map((t) => t.name).join(', ')}`);
}
