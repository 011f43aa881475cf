// Finds the real Bicep CLI: BICEP_PATH, `bicep` on PATH, az's copy, or the NuGet package
// Azure.Bicep.CommandLine.<rid> restored with the .NET SDK (infra/tools/bicep.csproj).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const RID: Record<string, string> = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'darwin-x64': 'osx-x64',
  'darwin-arm64': 'osx-arm64',
  'win32-x64': 'win-x64',
};

function works(path: string): boolean {
  return spawnSync(path, ['--version'], { encoding: 'utf8' }).status === 0;
}

function restored(): string | undefined {
  const base = join(ROOT, '.tmp', 'bicep', 'packages');
  if (!existsSync(base)) return undefined;
  for (const pkg of readdirSync(base).filter((d) => d.startsWith('azure.bicep.commandline.'))) {
    for (const version of readdirSync(join(base, pkg))) {
      const exe = join(base, pkg, version, 'tools', process.platform === 'win32' ? 'bicep.exe' : 'bicep');
      if (existsSync(exe)) {
        chmodSync(exe, 0o755); // NuGet does not keep the run bit
        return exe;
      }
    }
  }
  return undefined;
}

export interface BicepCli {
  path: string;
  how: string;
}

/** The Bicep CLI, or why there is none. */
export function findBicep(): BicepCli | { missing: string } {
  if (process.env.BICEP_PATH)
    return works(process.env.BICEP_PATH)
      ? { path: process.env.BICEP_PATH, how: 'BICEP_PATH' }
      : { missing: `BICEP_PATH=${process.env.BICEP_PATH} does not run` };
  if (works('bicep')) return { path: 'bicep', how: 'PATH' };
  const az = join(homedir(), '.azure', 'bin', process.platform === 'win32' ? 'bicep.exe' : 'bicep');
  if (existsSync(az) && works(az)) return { path: az, how: 'az bicep install' };
  let exe = restored();
  if (!exe) {
    const rid = RID[`${process.platform}-${process.arch}`];
    if (!rid) return { missing: `no Bicep CLI package for ${process.platform}-${process.arch}` };
    if (spawnSync('dotnet', ['--version']).status !== 0) {
      return {
        missing:
          'no Bicep CLI: install it (az bicep install, or put bicep on PATH, or set BICEP_PATH), or install the .NET SDK so the tests can restore it from NuGet',
      };
    }
    try {
      execFileSync(
        'dotnet',
        ['restore', join(ROOT, 'infra', 'tools', 'bicep.csproj'), `-p:BicepRid=${rid}`, '--nologo', '-v', 'q'],
        { stdio: 'pipe' },
      );
    } catch (err) {
      return {
        missing: `dotnet restore of Azure.Bicep.CommandLine.${rid} failed: ${(err as { stderr?: Buffer }).stderr?.toString() ?? (err as Error).message}`,
      };
    }
    exe = restored();
  }
  return exe && works(exe)
    ? { path: exe, how: 'NuGet Azure.Bicep.CommandLine' }
    : { missing: 'the restored Bicep CLI does not run' };
}

export function runBicep(cli: BicepCli, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cli.path, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}
