// The delivery ledger's table client, from AzureWebJobsStorage: a connection string (Azurite, keys) or an
// identity-based connection (…__tableServiceUri, …__clientId), like the Functions host reads it.
import { TableClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import { storageCredential } from '../queue/commandQueue';
import type { StorageConfig } from '../settings/storageConnection';

// Short retries inside a call: longer outages are waited out by re-enqueueing, not by blocking here.
const TABLE_RETRIES = { maxRetries: 1, retryDelayInMs: 200, maxRetryDelayInMs: 1000 };

export function createTableClient(
  storage: StorageConfig,
  tableName: string,
  credential?: TokenCredential,
): TableClient {
  if (storage.connectionString) {
    const local = /UseDevelopmentStorage=true|TableEndpoint=http:/i.test(storage.connectionString);
    return TableClient.fromConnectionString(storage.connectionString, tableName, {
      allowInsecureConnection: local,
      retryOptions: TABLE_RETRIES,
    });
  }
  return new TableClient(storage.tableServiceUri!, tableName, credential ?? storageCredential(storage), {
    retryOptions: TABLE_RETRIES,
  });
}
