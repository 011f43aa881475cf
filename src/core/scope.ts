// Which clusters a target may be told about: resource-id patterns where "*" matches within one path
// segment, compared case-insensitively (ARM ids are case-insensitive). Without patterns, every cluster.

const SHAPE = [
  '',
  'subscriptions',
  null,
  'resourcegroups',
  null,
  'providers',
  'microsoft.containerservice',
  'managedclusters',
  null,
];

/** Checks a pattern's shape; returns why it is wrong, or undefined. */
export function clusterPatternProblem(pattern: string): string | undefined {
  const parts = pattern.split('/');
  if (parts.length !== SHAPE.length) {
    return `"${pattern.slice(0, 80)}" must look like /subscriptions/<id or *>/resourceGroups/<name or pattern>/providers/Microsoft.ContainerService/managedClusters/<name or pattern>`;
  }
  for (let i = 0; i < parts.length; i++) {
    const fixed = SHAPE[i];
    const part = parts[i]!;
    if (fixed !== null && fixed !== undefined && part.toLowerCase() !== fixed)
      return `"${pattern.slice(0, 80)}": segment ${i} must be ${fixed}`;
    if (fixed === null && (part === '' || /[?#%\\\s]/.test(part)))
      return `"${pattern.slice(0, 80)}": segment ${i} is empty or holds ?, #, %, \\ or spaces`;
  }
  return undefined;
}

function toRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]*');
  return new RegExp(`^${body}$`, 'i');
}

export class ClusterScope {
  private readonly patterns: RegExp[];

  constructor(readonly sources: readonly string[]) {
    this.patterns = sources.map(toRegExp);
  }

  get unrestricted(): boolean {
    return this.patterns.length === 0;
  }

  allows(clusterResourceId: string): boolean {
    return this.unrestricted || this.patterns.some((p) => p.test(clusterResourceId));
  }
}
