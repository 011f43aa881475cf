// ARM's commandResults endpoint over HTTPS, answering like the real service: 202 with
// {"properties":{"provisioningState":"Running"}} and a Location header while a command runs, 200 with
// the RunCommandResult when done, CloudError otherwise. It accepts only tokens that the local identity
// endpoint issued for its own origin.
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
}

export interface ArmStandIn {
  endpoint: string;
  requests: RecordedRequest[];
  /** Applied to every request before the script (e.g. throttling), or undefined. */
  intercept: ((req: IncomingMessage) => Step | undefined) | undefined;
  addCommand(cluster: { subscriptionId: string; resourceGroupName: string; resourceName: string }, commandId: string, script: CommandScript): void;
  readsFor(commandId: string): RecordedRequest[];
  close(): Promise<void>;
}

const PATH =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerService\/managedClusters\/([^/]+)\/commandResults\/([^/]+)$/i;

function cloudError(code: string, message: string): unknown {
  return { error: { code, message } };
}

export async function startArmStandIn(options: { key: string; cert: string; identity: IdentityEndpoint }): Promise<ArmStandIn> {
  const commands = new Map<string, { script: CommandScript; registeredAt: number; stepIndex: number }>();
  const requests: RecordedRequest[] = [];
  let origin = '';

  const keyOf = (sub: string, rg: string, name: string, id: string) => `${sub}/${rg}/${name}`.toLowerCase() + `/${id}`;

  const standIn: ArmStandIn = {
    endpoint: '',
    requests,
    intercept: undefined,
    addCommand(cluster, commandId, script) {
      commands.set(keyOf(cluster.subscriptionId, cluster.resourceGroupName, cluster.resourceName, commandId), {
        script,
        registeredAt: Date.now(),
        stepIndex: 0,
      });
    },
    readsFor: (commandId) => requests.filter((r) => r.commandId === commandId),
    close: async () => undefined,
  };

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

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', origin);
    const m = PATH.exec(url.pathname);
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const authorized = !!auth && options.identity.validate(auth, origin);
    const record: RecordedRequest = { commandId: m?.[4] ?? '', method: req.method ?? '', path: url.pathname, at: Date.now(), status: 0, authorized };
    requests.push(record);
    if (!authorized) {
      return answer(req, res, record, { status: 401, body: cloudError('InvalidAuthenticationToken', 'The access token is invalid.'), headers: { 'www-authenticate': 'Bearer' } });
    }
    if (!m || req.method !== 'GET') return answer(req, res, record, { status: 404, body: cloudError('NotFound', 'No route.') });
    if (!url.searchParams.get('api-version')) {
      return answer(req, res, record, { status: 400, body: cloudError('MissingApiVersionParameter', 'The api-version query parameter is required.') });
    }
    const intercepted = standIn.intercept?.(req);
    if (intercepted) return answer(req, res, record, intercepted);
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
      return answer(req, res, record, step);
    }
    const running = !script.result || (script.runSeconds !== undefined && Date.now() - entry.registeredAt < script.runSeconds * 1000);
    const location = `${origin}${url.pathname}?api-version=${url.searchParams.get('api-version')}`;
    if (running) {
      return answer(req, res, record, { status: 202, body: { id: m[4], properties: { provisioningState: 'Running' } }, headers: { location } });
    }
    const startedAt = new Date(entry.registeredAt).toISOString();
    const finishedAt = new Date(entry.registeredAt + (script.runSeconds ?? 0) * 1000).toISOString();
    return answer(req, res, record, {
      status: 200,
      body: { id: m[4], properties: { ...script.result, startedAt, finishedAt } },
      headers: { location },
    });
  }

  const listening = await listenOnLoopback(createServer({ key: options.key, cert: options.cert }, handle));
  origin = `https://127.0.0.1:${listening.port}`;
  standIn.close = listening.close;
  standIn.endpoint = origin;
  return standIn;
}
