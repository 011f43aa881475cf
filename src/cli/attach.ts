// `run --file`: the attached files as `az aks command invoke --file` sends them, a zip in the request's
// `context` (base64). A lone "." attaches the current folder, keeping relative paths; other files are
// flattened to their base names. Everything is checked before anything is sent, and before anything is
// read: the whole tree is planned from `lstat` first (names, kinds, sizes), then read within its bounds.
//
// `--file .` never reads outside the folder: a link to a file inside it is attached as that file, a link
// that leads outside is refused with its name, a link to a folder is not followed (as az does: it is left
// out, with a line saying so), so no walk can loop. Entry names are built from path segments, never from
// a path string: no segment may be "..", and a name holding a backslash (which unzip takes for a folder
// separator) is refused with its path.
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { formatBytes } from '../core/text';
import { Zip, ZipDeflate } from 'fflate';
import {
  AttachError,
  biggest,
  fsProblem,
  isInside,
  MAX_CONTEXT_RAW_BYTES,
  MAX_CONTEXT_ZIP_BYTES,
  planFiles,
  shownName,
  type Plan,
  type Planned,
} from './attachPlan';

/** Where an open file really is (Linux), or undefined where the system does not say. */
function openedPath(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * A file's bytes, at most `limit` of them. What is opened must be the file planned (same device and
 * inode) and, for a folder, lie inside it: a file or folder swapped for a link after planning is caught
 * here, and so is a file that grew.
 */
function readBounded(file: Planned, limit: number, plan: Plan): Uint8Array {
  const shown = shownName(file.entry);
  let fd: number;
  try {
    fd = openSync(file.path, constants.O_RDONLY | (plan.root ? constants.O_NOFOLLOW : 0));
  } catch (err) {
    throw new AttachError(`--file: ${shown} is ${fsProblem(err)}`);
  }
  try {
    const st = fstatSync(fd);
    const where = plan.root ? openedPath(fd) : undefined;
    if (
      !st.isFile() ||
      st.dev !== file.dev ||
      st.ino !== file.ino ||
      (where !== undefined && !isInside(where, plan.root!))
    ) {
      throw new AttachError(`--file: ${shown} changed while the files were read`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // Sized from the plan: one read for a file that did not change, one more to see its end.
      const want = total < file.size ? file.size - total + 1 : 64 * 1024;
      const chunk = Buffer.allocUnsafe(Math.min(want, 1024 * 1024, limit - total + 1));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > limit)
        throw new AttachError(
          `--file: ${shown} grew while it was read, beyond what may be attached (${formatBytes(MAX_CONTEXT_RAW_BYTES)})`,
        );
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** The zip of the attached files, base64, or undefined when none are attached. */
export function attachFiles(
  paths: readonly string[],
  cwd = process.cwd(),
): { base64: string; files: string[]; zipBytes: number; rawBytes: number; skipped: string[] } | undefined {
  if (paths.length === 0) return undefined;
  const plan = planFiles(paths, cwd);
  const rawPlanned = plan.files.reduce((n, f) => n + f.size, 0);
  if (rawPlanned > MAX_CONTEXT_RAW_BYTES) {
    throw new AttachError(
      `the attached files hold ${formatBytes(rawPlanned)}; at most ${formatBytes(MAX_CONTEXT_RAW_BYTES)} may be attached, and at most ${formatBytes(MAX_CONTEXT_ZIP_BYTES)} once zipped (ARM refuses bodies over 4 MB); ${biggest(plan.files)}`,
    );
  }
  const chunks: Uint8Array[] = [];
  let zipBytes = 0;
  let zipError: Error | undefined;
  const zip = new Zip((err, data) => {
    if (err) zipError = err;
    else {
      chunks.push(data);
      zipBytes += data.length;
    }
  });
  let rawBytes = 0;
  const tooBig = () =>
    new AttachError(
      `the attached files zip to more than ${formatBytes(MAX_CONTEXT_ZIP_BYTES)} (from ${formatBytes(rawPlanned)}); at most ${formatBytes(MAX_CONTEXT_ZIP_BYTES)} fits in a request (ARM refuses bodies over 4 MB); ${biggest(plan.files)}`,
    );
  for (const file of plan.files) {
    const bytes = readBounded(file, MAX_CONTEXT_RAW_BYTES - rawBytes, plan);
    rawBytes += bytes.length;
    const entry = new ZipDeflate(file.entry, { level: 6 });
    zip.add(entry);
    entry.push(bytes, true);
    if (zipError) throw new AttachError(`could not zip the attached files: ${zipError.message}`);
    if (zipBytes > MAX_CONTEXT_ZIP_BYTES) throw tooBig();
  }
  zip.end();
  if (zipError) throw new AttachError(`could not zip the attached files: ${(zipError as Error).message}`);
  if (zipBytes > MAX_CONTEXT_ZIP_BYTES) throw tooBig();
  const base64 = Buffer.concat(chunks).toString('base64');
  return { base64, files: plan.files.map((f) => f.entry).sort(), zipBytes, rawBytes, skipped: plan.skipped };
}
