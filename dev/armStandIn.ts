// ARM's managed-cluster endpoints over HTTPS, answering like the real service:
//   GET  …/managedClusters/{name}                    the cluster (aadProfile.managed as registered);
//   POST …/managedClusters/{name}/runCommand          202, empty body, Location: …/commandResults/{new id};
//   GET  …/managedClusters/{name}/commandResults/{id} 202 with {"properties":{"provisioningState":"Running"}}
//                                                     and a Location while a command runs, 200 with the
//                                                     RunCommandResult when done;
// CloudError otherwise. It accepts only tokens that the local identity endpoint issued for its own origin.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IdentityEndpoint } from './identityEndpoint';
import { listenOnLoopback } from './listen';

export interface FinalResult {
  provisioningState: string;
  exitCode?: number;
  logs?: string;
  reason?: string;
}

/** One scripted answer. `reset` drops the connection; `delayMs` answers late. */
export interface Step {
  status: number;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  delayMs?: number;
  reset?: boolean;
}

export interface CommandScript {
  /** Answered in order before anything else. */
  steps?: Step[];
  /** Runs this long (from registration) before the result is final. */
  runSeconds?: number;
  /** The final answer (200). Without it the command runs for ever. */
  result?: FinalResult;
}

export interface RecordedRequest {
  commandId: string;
  method: string;
  path: string;
  at: number;
  status: number;
  authorized: boolean;
  /** The x-ms-client-request-id the caller sent. */
  clientRequestId?: string;
  /** The User-Agent the caller sent. */
  userAgent?: string;
}

export interface ClusterScript {
  /** properties.aadProfile.managed: an AKS-managed Entra ID cluster (runCommand then needs a clusterToken). */
  entraManaged?: boolean;
  /** Answer runCommand with this (e.g. 403 for a caller without runcommand/action, 409 for a stopped cluster). */
  runCommandError?: { status: number; code: string; message: string };
  /** Answer every commandResults read on this cluster with this (403: the reader lacks commandResults/read). */
  resultReadError?: { status: number; code: string; message: string };
  /** What a started command does (default: runs 2 s, then succeeds with exit code 0). */
  script?: (body: RunCommandRequest) => CommandScript;
  /**
   * Answers to the next runCommand POSTs, in order, instead of the 202: `starts` says whether the command
   * is started first (a gateway 502 or a reset after ARM took the request) or not (a 429 refusal).
   */
  startFaults?: (Step & { starts: boolean })[];
}

export interface RunCommandRequest {
  command?: string;
  context?: string;
  clusterToken?: string;
  /** The bearer token the request carried (tests check its audience). */
  token?: string;
}

export interface ArmStandIn {
  endpoint: string;
  requests: RecordedRequest[];
  /** Bodies of runCommand requests, by the command id they started. */
  started: Map<string, RunCommandRequest>;
  addCluster(
    cluster: { subscriptionId: string; resourceGroupName: string; resourceName: string },
    script: ClusterScript,
  ): void;
  /**
   * ARM's subscription-wide read bucket (per subscription, whoever asks): a result read beyond it is
   * answered 429 with Retry-After, and every read says what is left (x-ms-ratelimit-remaining-subscription-reads).
   */
  readBucket: { burst: number; perSecond: number } | undefined;
  /** Applied to every request before the script (e.g. throttling), or undefined. */
  intercept: ((req: IncomingMessage) => Step | undefined) | undefined;
  addCommand(
    cluster: { subscriptionId: string; resourceGroupName: string; resourceName: string },
    commandId: string,
    script: CommandScript,
  ): void;
  readsFor(commandId: string): RecordedRequest[];
  /**
   * Resource Graph's `resources` API (POST /providers/Microsoft.ResourceGraph/resources): answers with the
   * ids `select` picks for the query (default: every cluster added, in order), `pageSize` a page with a
   * $skipToken. It cannot run KQL: tests say what a query selects. `queries` records what was asked.
   */
  graph: { pageSize: number; select?: (query: string) => string[]; refuse?: { status: number; code: string } };
  graphQueries: string[];
  close(): Promise<void>;
}

const PATH =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerService\/managedClusters\/([^/]+)\/commandResults\/([^/]+)$/i;
const CLUSTER =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerService\/managedClusters\/([^/]+)(\/runCommand)?$/i;

function cloudError(code: string, message: string): unknown {
  return { error: { code, message } };
}

export async function startArmStandIn(options: {
  key: string;
  cert: string;
  identity: IdentityEndpoint;
}): Promise<ArmStandIn> {
  const commands = new Map<string, { script: CommandScript; registeredAt: number; stepIndex: number }>();
  const clusters = new Map<string, ClusterScript>();
  const started = new Map<string, RunCommandRequest>();
  const requests: RecordedRequest[] = [];
  let origin = '';

  const keyOf = (sub: string, rg: string, name: string, id: string) => `${sub}/${rg}/${name}`.toLowerCase() + `/${id}`;

  const clusterKey = (sub: string, rg: string, name: string) => `${sub}/${rg}/${name}`.toLowerCase();
  const standIn: ArmStandIn = {
    endpoint: '',
    requests,
    started,
    addCluster(cluster, script) {
      clusterIds.push(
        `/subscriptions/${cluster.subscriptionId}/resourceGroups/${cluster.resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/${cluster.resourceName}`,
      );
      clusters.set(clusterKey(cluster.subscriptionId, cluster.resourceGroupName, cluster.resourceName), script);
    },
    readBucket: undefined,
    intercept: undefined,
    addCommand(cluster, commandId, script) {
      commands.set(keyOf(cluster.subscriptionId, cluster.resourceGroupName, cluster.resourceName, commandId), {
        script,
        registeredAt: Date.now(),
        stepIndex: 0,
      });
    },
    readsFor: (commandId) => requests.filter((r) => r.commandId === commandId && r.method === 'GET'),
    graph: { pageSize: 1000 },
    graphQueries: [],
    close: async () => undefined,
  };
  const clusterIds: string[] = [];

  const readBuckets = new Map<string, { tokens: number; at: number }>();
  /** Takes a read from the subscription's bucket: the tokens left, or the seconds to wait (a 429). */
  function spendRead(subscription: string): { left: number } | { retryAfter: number } | undefined {
    const rate = standIn.readBucket;
    if (!rate) return undefined;
    const now = Date.now();
    const key = subscription.toLowerCase();
    const b = readBuckets.get(key) ?? { tokens: rate.burst, at: now };
    b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) / 1000) * rate.perSecond);
    b.at = now;
    readBuckets.set(key, b);
    if (b.tokens < 1) return { retryAfter: Math.max(1, Math.ceil((1 - b.tokens) / rate.perSecond)) };
    b.tokens -= 1;
    return { left: Math.floor(b.tokens) };
  }

  function answer(req: IncomingMessage, res: ServerResponse, record: RecordedRequest, step: Step): void {
    record.status = step.reset ? 0 : step.status;
    const respond = () => {
      if (step.reset) {
        req.socket.destroy();
        return;
      }
      const body = step.rawBody ?? (step.body === undefined ? '' : JSON.stringify(step.body));
      res.writeHead(step.status, { 'content-type': 'application/json; charset=utf-8', ...(step.headers ?? {}) });
      res.end(body);
    };
    if (step.delayMs) setTimeout(respond, step.delayMs);
    else respond();
  }

  function clusterRequest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    c: RegExpExecArray,
    record: RecordedRequest,
    body: string,
    token: string,
  ): void {
    const cluster = clusters.get(clusterKey(c[1]!, c[2]!, c[3]!));
    if (!cluster)
      return answer(req, res, record, {
        status: 404,
        body: cloudError(
          'ResourceNotFound',
          `The Resource 'Microsoft.ContainerService/managedClusters/${c[3]}' under resource group '${c[2]}' was not found.`,
        ),
      });
    const id = `/subscriptions/${c[1]}/resourceGroups/${c[2]}/providers/Microsoft.ContainerService/managedClusters/${c[3]}`;
    if (!c[4] && req.method === 'GET') {
      return answer(req, res, record, {
        status: 200,
        body: {
          id,
          name: c[3],
          properties: {
            provisioningState: 'Succeeded',
            powerState: { code: 'Running' },
            ...(cluster.entraManaged ? { aadProfile: { managed: true, enableAzureRBAC: true } } : {}),
          },
        },
      });
    }
    if (c[4] && req.method === 'POST') {
      if (cluster.runCommandError) {
        const e = cluster.runCommandError;
        return answer(req, res, record, { status: e.status, body: cloudError(e.code, e.message) });
      }
      const fault = cluster.startFaults?.shift();
      if (fault && !fault.starts) return answer(req, res, record, fault);
      let parsed: RunCommandRequest;
      try {
        parsed = JSON.parse(body) as RunCommandRequest;
      } catch {
        return answer(req, res, record, {
          status: 400,
          body: cloudError('InvalidRequestContent', 'The request content was invalid.'),
        });
      }
      if (!parsed.command)
        return answer(req, res, record, { status: 400, body: cloudError('InvalidParameter', 'command is required') });
      const commandId = randomBytes(16).toString('hex');
      started.set(commandId, { ...parsed, token });
      const script = cluster.script?.(parsed) ?? {
        runSeconds: 2,
        result: { provisioningState: 'Succeeded', exitCode: 0, logs: `ran: ${parsed.command}\n` },
      };
      standIn.addCommand({ subscriptionId: c[1]!, resourceGroupName: c[2]!, resourceName: c[3]! }, commandId, script);
      record.commandId = commandId;
      if (fault) return answer(req, res, record, fault);
      return answer(req, res, record, {
        status: 202,
        headers: {
          location: `${origin}${id}/commandResults/${commandId}?api-version=${url.searchParams.get('api-version')}`,
        },
      });
    }
    return answer(req, res, record, { status: 405, body: cloudError('MethodNotAllowed', 'No such operation.') });
  }

  function graphRequest(req: IncomingMessage, res: ServerResponse, record: RecordedRequest, body: string): void {
    let parsed: { query?: unknown; options?: { $top?: unknown; $skipToken?: unknown } };
    try {
      parsed = JSON.parse(body);
    } catch {
      return answer(req, res, record, { status: 400, body: cloudError('InvalidRequestContent', 'Not JSON.') });
    }
    if (typeof parsed.query !== 'string')
      return answer(req, res, record, { status: 400, body: cloudError('BadRequest', 'query is required') });
    standIn.graphQueries.push(parsed.query);
    const refuse = standIn.graph.refuse;
    if (refuse) return answer(req, res, record, { status: refuse.status, body: cloudError(refuse.code, 'Refused.') });
    const ids = standIn.graph.select?.(parsed.query) ?? clusterIds;
    const top = Math.min(Number(parsed.options?.$top ?? 1000) || 1000, standIn.graph.pageSize);
    const from = Number(parsed.options?.$skipToken ?? 0) || 0;
    const page = ids.slice(from, from + top);
    const next = from + top < ids.length ? String(from + top) : undefined;
    return answer(req, res, record, {
      status: 200,
      body: {
        totalRecords: ids.length,
        count: page.length,
        data: page.map((id) => ({ id })),
        resultTruncated: 'false',
        ...(next ? { $skipToken: next } : {}),
      },
    });
  }

  function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', origin);
    const m = PATH.exec(url.pathname);
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const authorized = !!auth && options.identity.validate(auth, origin);
    const clientRequestId = req.headers['x-ms-client-request-id'];
    const record: RecordedRequest = {
      commandId: m?.[4] ?? '',
      method: req.method ?? '',
      path: url.pathname,
      at: Date.now(),
      status: 0,
      authorized,
      ...(typeof clientRequestId === 'string' ? { clientRequestId } : {}),
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
    };
    requests.push(record);
    if (!authorized) {
      return answer(req, res, record, {
        status: 401,
        body: cloudError('InvalidAuthenticationToken', 'The access token is invalid.'),
        headers: { 'www-authenticate': 'Bearer' },
      });
    }
    if (!url.searchParams.get('api-version')) {
      return answer(req, res, record, {
        status: 400,
        body: cloudError('MissingApiVersionParameter', 'The api-version query parameter is required.'),
      });
    }
    if (req.method === 'POST' && /^\/providers\/Microsoft\.ResourceGraph\/resources$/i.test(url.pathname))
      return graphRequest(req, res, record, body);
    const c = CLUSTER.exec(url.pathname);
    if (c) return clusterRequest(req, res, url, c, record, body, auth!);
    if (!m || req.method !== 'GET')
      return answer(req, res, record, { status: 404, body: cloudError('NotFound', 'No route.') });
    const readError = clusters.get(clusterKey(m[1]!, m[2]!, m[3]!))?.resultReadError;
    if (readError)
      return answer(req, res, record, {
        status: readError.status,
        body: cloudError(readError.code, readError.message),
      });
    const intercepted = standIn.intercept?.(req);
    if (intercepted) return answer(req, res, record, intercepted);
    const spent = spendRead(m[1]!);
    if (spent && 'retryAfter' in spent) {
      return answer(req, res, record, {
        status: 429,
        body: cloudError(
          'SubscriptionRequestsThrottled',
          `Number of 'read' requests for subscription '${m[1]}' exceeded. Please try again after '${spent.retryAfter}' seconds.`,
        ),
        headers: { 'retry-after': String(spent.retryAfter), 'x-ms-ratelimit-remaining-subscription-reads': '0' },
      });
    }
    const budgetHeaders: Record<string, string> = spent
      ? { 'x-ms-ratelimit-remaining-subscription-reads': String(spent.left) }
      : {};
    const entry = commands.get(keyOf(m[1]!, m[2]!, m[3]!, m[4]!));
    if (!entry) {
      return answer(req, res, record, {
        status: 404,
        body: cloudError('NotFound', `Command ${m[4]} was not found on managed cluster ${m[3]}.`),
      });
    }
    const { script } = entry;
    if (script.steps && entry.stepIndex < script.steps.length) {
      const step = script.steps[entry.stepIndex++]!;
      return answer(req, res, record, { ...step, headers: { ...budgetHeaders, ...(step.headers ?? {}) } });
    }
    const running =
      !script.result || (script.runSeconds !== undefined && Date.now() - entry.registeredAt < script.runSeconds * 1000);
    const location = `${origin}${url.pathname}?api-version=${url.searchParams.get('api-version')}`;
    if (running) {
      return answer(req, res, record, {
        status: 202,
        body: { id: m[4], properties: { provisioningState: 'Running' } },
        headers: { location, ...budgetHeaders },
      });
    }
    const startedAt = new Date(entry.registeredAt).toISOString();
    const finishedAt = new Date(entry.registeredAt + (script.runSeconds ?? 0) * 1000).toISOString();
    return answer(req, res, record, {
      status: 200,
      body: { id: m[4], properties: { ...script.result, startedAt, finishedAt } },
      headers: { location, ...budgetHeaders },
    });
  }

  const listening = await listenOnLoopback(
    createServer({ key: options.key, cert: options.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
    }),
  );
  origin = `https://127.0.0.1:${listening.port}`;
  standIn.close = listening.close;
  standIn.endpoint = origin;
  return standIn;
}
