// How the CLI says that no Azure credential could be had, the same way in every command: which sources
// DefaultAzureCredential tried and why each could not help, in a few lines, never the SDK's whole chain.

/** Whether an error (or what it wraps) is DefaultAzureCredential finding no credential. */
export function isNoCredential(err: unknown): boolean {
  return credentialError(err) !== undefined;
}

const SOURCES: [RegExp, string][] = [
  [
    /EnvironmentCredential/,
    'EnvironmentCredential (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET or certificate)',
  ],
  [/WorkloadIdentityCredential|federated token/i, 'WorkloadIdentityCredential (AZURE_FEDERATED_TOKEN_FILE)'],
  [/ManagedIdentityCredential|managed identity/i, 'ManagedIdentityCredential (a managed identity where this runs)'],
  [/Visual Studio Code/i, 'VisualStudioCodeCredential'],
  [/Azure Developer CLI/i, 'AzureDeveloperCliCredential (azd auth login)'],
  [/Azure CLI/i, 'AzureCliCredential (az login)'],
  [/PowerShell/i, 'AzurePowerShellCredential (Connect-AzAccount)'],
];

/** The sources DefaultAzureCredential tried, and why each could not help. */
export function describeNoCredential(err: unknown): string {
  const e = (credentialError(err) ?? err) as { message?: string; errors?: { name?: string; message?: string }[] };
  const tried = (e.errors ?? []).map((x) => {
    const message = x.message ?? '';
    const source = SOURCES.find(([pattern]) => pattern.test(message))?.[1] ?? x.name ?? 'a credential';
    const why = message
      .replace(/^\w+Credential:?\s*/, '')
      .split('\n')[0]!
      .replace(/\s*To troubleshoot.*$/, '')
      .slice(0, 120);
    return `${source}: ${why}`;
  });
  return tried.length > 0
    ? `no Azure credential is available. Tried:\n  ${tried.join('\n  ')}\nLog in (az login), set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET or a federated token (workload identity), or run where a managed identity is.`
    : `no Azure credential is available: ${(e.message ?? String(err)).split('\n')[0]}`;
}

/** The credential error itself (where a storage or ARM client wrapped it), or undefined. */
function credentialError(err: unknown): unknown {
  for (let e = err as { name?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.name === 'CredentialUnavailableError' || e.name === 'AggregateAuthenticationError') return e;
    e = e.cause as typeof e;
  }
  return undefined;
}
