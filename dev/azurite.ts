// Azurite (the Storage emulator, from npm) as a child process: blob, queue and table on free ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Keep data on disk here (so a restart keeps it); in memory when absent. */
  location?: string;
  /** Reuse ports (a restart must come back where clients expect it). */
  ports?: { blob: number; queue: number; table: number };
}

export interface Azurite {
  connectionString: string;
  ports: { blob: number; queue: number; table: number };
  process: ChildProcess;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const entry = require.resolve('azurite/dist/src/azurite.js');
  const p = options.ports ?? { blob: 0, queue: 0, table: 0 };
  const args = [
    entry,
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(p.blob),
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    String(p.queue),
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(p.table),
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--loose',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ports: Partial<Azurite['ports']> = {};
  const errors: string[] = [];
  child.stderr!.on('data', (d: Buffer) => errors.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start: ${errors.join('')}`)), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with ${code}: ${errors.join('')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(
        line,
      );
      if (!m) return;
      ports[m[1]!.toLowerCase() as 'blob'] = Number(m[2]);
      if (ports.blob && ports.queue && ports.table) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve();
      }
    });
  });
  const all = ports as Azurite['ports'];
  const base = 'http://127.0.0.1';
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` +
    `BlobEndpoint=${base}:${all.blob}/${DEV_ACCOUNT};QueueEndpoint=${base}:${all.queue}/${DEV_ACCOUNT};TableEndpoint=${base}:${all.table}/${DEV_ACCOUNT};`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    connectionString,
    ports: all,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
