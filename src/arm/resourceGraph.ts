// Choosing a fleet with Azure Resource Graph (`run --graph-query`): the caller's query, narrowed to managed
// clusters and projected to their ids, POSTed to ARM's `resources` API with the caller's identity, page by
// page ($skipToken). Resource Graph returns only what the caller may read (Reader where the clusters are).
// A query is a read: the pipeline's retries apply, and the token goes to ARM alone.
import type { TokenCredential } from '@azure/identity';
import { createDefaultHttpClient, createPipelineRequest, type HttpClient } from '@azure/core-rest-pipeline';
import { createArmPipeline } from './commandResults';

const RESOURCE_GRAPH_API_VERSION = '2022-10-01';
const PAGE_SIZE = 1000;
/** Far beyond a group's 200 members: a query that matches more is refused before it is paged out. */
const MAX_PAGES = 10;

export interface GraphOptions {
  endpoint: string;
  scope: string;
  credential: TokenCredential;
  timeoutMs: number;
  httpClient?: HttpClient;
}

class GraphQueryError extends Error {
  override name = 'GraphQueryError';
}

/** The query as sent: the caller's, then managed clusters only, then their ids. */
function managedClustersQuery(query: string): string {
  return `${query.trim()}\n| where type =~ 'microsoft.containerservice/managedclusters'\n| project id`;
}

/** The resource ids of the managed clusters the caller's query selects, in Resource Graph's order. */
export async function queryManagedClusterIds(options: GraphOptions, query: string): Promise<string[]> {
  const pipeline = createArmPipeline(options.credential, options.scope);
  const httpClient = options.httpClient ?? createDefaultHttpClient();
  const url = `${new URL(options.endpoint).origin}/providers/Microsoft.ResourceGraph/resources?api-version=${RESOURCE_GRAPH_API_VERSION}`;
  const ids: string[] = [];
  let skipToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const req = createPipelineRequest({
      url,
      method: 'POST',
      timeout: options.timeoutMs,
      body: JSON.stringify({
        query: managedClustersQuery(query),
        options: { resultFormat: 'objectArray', $top: PAGE_SIZE, ...(skipToken ? { $skipToken: skipToken } : {}) },
      }),
    });
    req.headers.set('content-type', 'application/json');
    req.headers.set('accept', 'application/json');
    let res;
    try {
      res = await pipeline.sendRequest(httpClient, req);
    } catch (err) {
      throw new GraphQueryError(`Resource Graph could not be asked: ${(err as Error).message.split('\n')[0]}`);
    }
    const text = res.bodyAsText ?? '';
    let body: { data?: unknown; $skipToken?: unknown; error?: { code?: string; message?: string } };
    try {
      body = JSON.parse(text || '{}');
    } catch {
      throw new GraphQueryError(`Resource Graph answered ${res.status} with a body that is not JSON`);
    }
    if (res.status !== 200) {
      const e = body.error;
      const said = `${res.status}${e?.code ? ` ${e.code}` : ''}${e?.message ? `: ${e.message.slice(0, 400)}` : ''}`;
      const hint =
        res.status === 401 || res.status === 403
          ? ' (the query runs as you: you need Reader, or Microsoft.ResourceGraph/resources/read, where the clusters are)'
          : res.status === 400
            ? ' (the query must start from the resources table and keep its id and type columns)'
            : '';
      throw new GraphQueryError(`Resource Graph answered ${said}${hint}`);
    }
    const rows = Array.isArray(body.data) ? body.data : [];
    for (const row of rows) {
      const id = (row as { id?: unknown })?.id;
      if (typeof id === 'string') ids.push(id);
    }
    skipToken = typeof body.$skipToken === 'string' && body.$skipToken ? body.$skipToken : undefined;
    if (!skipToken) return ids;
  }
  throw new GraphQueryError(`the query matched more than ${MAX_PAGES * PAGE_SIZE} clusters: narrow it`);
}
