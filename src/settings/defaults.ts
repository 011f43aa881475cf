// The app's own settings (not a channel's): their names, defaults and ranges. No imports, so that every
// module can read them without a cycle. The whole list, channels included, is settings/catalog.ts.

export const DEFAULTS = {
  COMMAND_QUEUE_NAME: 'aks-command-results',
  ARM_ENDPOINT: 'https://management.azure.com',
  AKS_API_VERSION: '2024-09-01',
  POLL_INITIAL_DELAY_SECONDS: 5,
  POLL_MAX_DELAY_SECONDS: 60,
  POLL_TIMEOUT_MINUTES: 120,
  ARM_TIMEOUT_SECONDS: 15,
  WEBHOOK_TIMEOUT_SECONDS: 10,
  DELIVERY_TABLE_NAME: 'aksnotifierdeliveries',
  RESULT_CONTAINER_NAME: 'aksnotifier-results',
  DELIVERY_TIMEOUT_HOURS: 24,
  DELIVERY_MAX_DELAY_SECONDS: 900,
  LEDGER_RETENTION_DAYS: 30,
  ARM_READS_PER_SECOND: 20,
  ARM_READ_BURST: 200,
  MAX_INSTANCE_COUNT: 4,
} as const;

/** The accepted range of every numeric setting: wide enough for tests, narrow enough to be sane. */
export const RANGES = {
  POLL_INITIAL_DELAY_SECONDS: [1, 3600],
  POLL_MAX_DELAY_SECONDS: [1, 3600],
  POLL_TIMEOUT_MINUTES: [0.05, 10080],
  ARM_TIMEOUT_SECONDS: [1, 120],
  WEBHOOK_TIMEOUT_SECONDS: [1, 60],
  DELIVERY_TIMEOUT_HOURS: [0.01, 168],
  DELIVERY_MAX_DELAY_SECONDS: [1, 900],
  LEDGER_RETENTION_DAYS: [1, 3650],
  ARM_READS_PER_SECOND: [1, 10000],
  ARM_READ_BURST: [1, 10000],
  MAX_INSTANCE_COUNT: [1, 1000],
} as const satisfies Partial<Record<keyof typeof DEFAULTS, readonly [number, number]>>;

/** The numeric settings that take whole numbers only; the others take fractions too. */
export const WHOLE_NUMBERS: ReadonlySet<keyof typeof RANGES> = new Set([
  'LEDGER_RETENTION_DAYS',
  'ARM_READ_BURST',
  'MAX_INSTANCE_COUNT',
]);

/** What a numeric setting accepts, in the words its error and docs/settings.md both use. */
export function rangeText(name: keyof typeof RANGES): string {
  const [min, max] = RANGES[name];
  return rangeWords(min, max, WHOLE_NUMBERS.has(name));
}

export function rangeWords(min: number, max: number, whole: boolean): string {
  return `${whole ? 'a whole number' : 'a number'} from ${min} to ${max}`;
}

/** Settings of the app itself; each channel adds its own (settings/catalog.ts). */
export const CORE_SETTING_NAMES = [
  'COMMAND_QUEUE_NAME',
  'AzureWebJobsStorage',
  'ARM_ENDPOINT',
  'AKS_API_VERSION',
  'AZURE_CLIENT_ID',
  'POLL_INITIAL_DELAY_SECONDS',
  'POLL_MAX_DELAY_SECONDS',
  'POLL_TIMEOUT_MINUTES',
  'ARM_TIMEOUT_SECONDS',
  'WEBHOOK_TIMEOUT_SECONDS',
  'DELIVERY_TABLE_NAME',
  'RESULT_CONTAINER_NAME',
  'DELIVERY_TIMEOUT_HOURS',
  'DELIVERY_MAX_DELAY_SECONDS',
  'LEDGER_RETENTION_DAYS',
  'ARM_READS_PER_SECOND',
  'ARM_READ_BURST',
  'MAX_INSTANCE_COUNT',
  'NOTIFY_TARGETS',
  'NOTIFY_DEFAULT_TARGETS',
] as const;
