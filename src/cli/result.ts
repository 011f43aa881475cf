// `aks-command-notifier result`: one read of a command's result with the caller's identity, printed like
// run --wait's end. A command still running exits 75 ("try again later").
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { loadCallerSettings, type Env } from '../config';
import { describeRead } from '../core/armAnswer';
import { clusterResourceId } from '../core/cluster';
import { parseClusterResourceId } from '../core/message';
import { finalAnswer } from '../core/report';
import { buildMessage } from './enqueue';
import { printResult, resultJson } from './follow';
import { RunError, type Io } from './io';
import { callerResultReader } from './start';

export interface ResultInput {
  cluster: string;
  commandId: string;
  output?: 'text' | 'json';
  raw?: boolean;
}

/** `result`: one read, printed like --wait's end. A command still running exits 75 ("try again later"). */
export async function result(input: ResultInput, env: Env, io: Io, credential?: TokenCredential): Promise<number> {
  const settings = loadCallerSettings(env);
  const cluster = parseClusterResourceId(input.cluster);
  buildMessage({ cluster: input.cluster, commandId: input.commandId });
  const reader = callerResultReader(settings, credential ?? new DefaultAzureCredential());
  const answer = await reader.read(cluster, input.commandId);
  if (answer.kind === 'transient' && /token|credential/i.test(answer.detail)) throw new RunError(answer.detail);
  const final = finalAnswer(answer);
  if (!final) {
    const state = describeRead(answer);
    if (input.output === 'json')
      io.out(
        JSON.stringify({
          commandId: input.commandId,
          clusterResourceId: clusterResourceId(cluster),
          result: { outcome: 'running', state },
        }),
      );
    else io.out(`command ${input.commandId} is not finished: ${state}`);
    return 75;
  }
  if (input.output === 'json') {
    const code = printResult(
      final,
      cluster,
      input.commandId,
      0,
      { out: () => undefined, err: () => undefined },
      input.raw,
    );
    io.out(
      JSON.stringify({
        commandId: input.commandId,
        clusterResourceId: clusterResourceId(cluster),
        result: { ...resultJson(final, input.raw), exitCodeOfCli: code },
      }),
    );
    return code;
  }
  return printResult(final, cluster, input.commandId, 0, io, input.raw);
}
