// Planning `run --file`: the whole tree is planned from `lstat` before a byte is read (names, kinds,
// sizes), within the limits ARM's request allows. A link to a file inside the folder is that file, a link
// that leads outside is refused with its name, a link to a folder is left out (as az does), so no walk can
// loop; entry names are built from path segments, and a name holding a backslash is refused with its path.
import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { escapeForLog, formatBytes } from '../core/text';

/**
 * The API documents no limit for `context`; ARM refuses request bodies over 4 MB, and base64 grows a zip
 * by a third: a zip of at most 2.5 MiB leaves room for the command and the cluster token.
 */
export const MAX_CONTEXT_ZIP_BYTES = 2.5 * 1024 * 1024;
/** What may be attached before zipping: bounds what is read and deflated (1 GiB of zeros zips to 1 MiB). */
export const MAX_CONTEXT_RAW_BYTES = 32 * 1024 * 1024;
/** A walk stops here: a tree this large (node_modules, .git) is not what a command needs. */
const MAX_WALK_ENTRIES = 100_000;

export class AttachError extends Error {
  override name = 'AttachError';
}

export interface Planned {
  /** The zip entry name, from path segments joined with "/". */
  entry: string;
  /** What to read: the file itself, or what a link inside the folder points at. */
  path: string;
  size: number;
  /** The file as planned: what is opened later must be this same file. */
  dev: number;
  ino: number;
}

export interface Plan {
  /** The folder's real path for "--file ."; what is read must lie inside it. */
  root?: string;
  files: Planned[];
  /** Lines for the caller: what was left out, and why. */
  skipped: string[];
  walked: number;
}

function segmentProblem(segment: string): string | undefined {
  if (segment === '' || segment === '.' || segment === '..') return 'is not a file name';
  if (segment.includes('\\')) return 'holds a backslash, which unzip takes for a folder separator: rename it';
  if (segment.includes('/')) return 'holds a "/"';
  return undefined;
}

/** A name from the file system, on its way to a terminal (a CI log): one line, no controls. */
export const shownName = (name: string) => escapeForLog(name, 300);

function entryOf(segments: readonly string[], shown: string): string {
  for (const s of segments) {
    const problem = segmentProblem(s);
    if (problem)
      throw new AttachError(`--file ${shownName(shown)}: the name ${shownName(JSON.stringify(s))} ${problem}`);
  }
  return segments.join('/');
}

/** Both paths are real (links resolved). */
export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

export function fsProblem(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === 'ELOOP') return 'a link that leads round in a loop';
  if (code === 'ENOENT') return 'a link to nothing';
  if (code === 'EACCES' || code === 'EPERM') return 'not readable (permission denied)';
  return `not readable (${code ?? (err as Error).message})`;
}

function walk(dir: string, segments: string[], root: string, plan: Plan): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
    // A folder swapped for a link while it was listed would have listed somewhere else.
    if (realpathSync(dir) !== dir)
      throw new AttachError(`--file .: the folder ${shownName(segments.join('/'))} changed while it was read`);
  } catch (err) {
    if (err instanceof AttachError) throw err;
    throw new AttachError(`--file .: the folder ${shownName(segments.join('/') || '.')} is ${fsProblem(err)}`);
  }
  for (const name of names) {
    if (++plan.walked > MAX_WALK_ENTRIES) {
      throw new AttachError(
        `--file .: the folder holds more than ${MAX_WALK_ENTRIES.toLocaleString('en')} entries (node_modules? .git?); attach a folder with only what the command needs`,
      );
    }
    const path = join(dir, name);
    const parts = [...segments, name];
    const shown = shownName(parts.join('/'));
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (err) {
      throw new AttachError(`--file .: ${shown} is ${fsProblem(err)}`);
    }
    if (st.isDirectory()) {
      entryOf(parts, shown);
      walk(path, parts, root, plan);
    } else if (st.isFile()) {
      plan.files.push({ entry: entryOf(parts, shown), path, size: st.size, dev: st.dev, ino: st.ino });
    } else if (st.isSymbolicLink()) {
      let real: string;
      let target: Stats;
      let written: string;
      try {
        written = readlinkSync(path);
        real = realpathSync(path);
        target = statSync(real);
      } catch (err) {
        throw new AttachError(`--file .: ${shown} is ${fsProblem(err)}`);
      }
      if (target.isDirectory()) {
        plan.skipped.push(`${shown}: a link to a folder, not followed (as az does)`);
      } else if (!isInside(real, root)) {
        throw new AttachError(
          `--file .: ${shown} is a link to ${shownName(written)}, outside the folder: nothing outside it is attached (copy the file in if the command needs it)`,
        );
      } else if (target.isFile()) {
        plan.files.push({
          entry: entryOf(parts, shown),
          path: real,
          size: target.size,
          dev: target.dev,
          ino: target.ino,
        });
      } else {
        throw new AttachError(
          `--file .: ${shown} is a link to something that is not a file (a FIFO, socket or device)`,
        );
      }
    } else {
      throw new AttachError(`--file .: ${shown} is not a file (a FIFO, socket or device)`);
    }
  }
}

export function planFiles(paths: readonly string[], cwd: string): Plan {
  const plan: Plan = { files: [], skipped: [], walked: 0 };
  if (paths.includes('.')) {
    if (paths.length > 1)
      throw new AttachError('--file . attaches the current folder and cannot be combined with other --file paths');
    let root: string;
    try {
      root = realpathSync(resolve(cwd));
    } catch (err) {
      throw new AttachError(`--file .: the current folder is ${fsProblem(err)}`);
    }
    plan.root = root;
    walk(root, [], root, plan);
    if (plan.files.length === 0)
      throw new AttachError(
        `--file .: the current folder holds no files${plan.skipped.length ? ` (left out: ${plan.skipped.join('; ')})` : ''}`,
      );
    return plan;
  }
  const names = new Set<string>();
  for (const p of paths) {
    // A file named on the command line is what the user chose: a link there is followed.
    const full = resolve(cwd, p);
    let st: Stats;
    try {
      st = statSync(full);
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new AttachError(`--file ${shownName(p)}: ${code === 'ENOENT' ? 'no such file' : fsProblem(err)}`);
    }
    if (!st.isFile())
      throw new AttachError(`--file ${shownName(p)}: not a file (only "." attaches a folder: the current one)`);
    const name = basename(full);
    const entry = entryOf([name], p);
    if (names.has(entry))
      throw new AttachError(
        `--file ${shownName(p)}: another attached file is also named ${shownName(name)} (files are attached by their base names)`,
      );
    names.add(entry);
    plan.files.push({ entry, path: full, size: st.size, dev: st.dev, ino: st.ino });
  }
  return plan;
}

/** The biggest files and, for a folder, the biggest top-level entries: where the bytes are. */
export function biggest(files: readonly Planned[]): string {
  const top = [...files].sort((a, b) => b.size - a.size).slice(0, 5);
  const byTop = new Map<string, number>();
  for (const f of files) {
    const head = f.entry.includes('/') ? `${f.entry.split('/')[0]}/` : f.entry;
    byTop.set(head, (byTop.get(head) ?? 0) + f.size);
  }
  const folders = [...byTop]
    .filter(([k]) => k.endsWith('/'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3);
  return [
    `biggest: ${top.map((f) => `${shownName(f.entry)} (${formatBytes(f.size)})`).join(', ')}`,
    ...(folders.length
      ? [`by folder: ${folders.map(([k, n]) => `${shownName(k)} (${formatBytes(n)})`).join(', ')}`]
      : []),
  ].join('; ');
}
