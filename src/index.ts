// Entry of the deployed function app: set up the app, register the functions, check settings early.
import { app } from '@azure/functions';
import { ConfigError, loadConfig } from './config';

app.setup({ enableHttpStream: false });

// Flush the app's telemetry when the host stops this instance (scale-in, deployment). Set up lazily by
// the handlers (telemetry/setup.ts); nothing to do when it never was.
app.hook.appTerminate(async () => {
  const telemetry = (globalThis as Record<symbol, { shutdown(): Promise<void> } | undefined>)[
    Symbol.for('aks-command-notifier.telemetry')
  ];
  await telemetry?.shutdown().catch(() => undefined);
});

// Report bad settings (an unresolved Key Vault reference, a non-https URL) once at start-up, naming the
// setting; invocations then fail with the same error and the host's retries end in the poison queue.
try {
  loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) console.error(`aks-command-notifier: invalid setting ${err.message}`);
  else throw err;
}

// Exported for tests and tools that drive the deployed bundle without the host.
export { trackCommand } from './functions/trackCommand';
export { cleanLedger } from './functions/cleanLedger';
export { monitorQueue } from './functions/monitorQueue';
