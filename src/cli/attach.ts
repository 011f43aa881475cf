// `run --file`: the attached files as `az aks command invoke --file` sends them, a zip in the request's
// `context` (base64). A lone "." attaches the current folder, keeping relative paths; other files are
// flattened to their base names. Everything is checked before anything is sent.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { zipSync } from 'fflate';

/**
 * The API documents no limit for `context`; ARM refuses request bodies over 4 MB, and base64 grows a zip
 * by a third: a zip of at most 2.5 MiB leaves room for the command and the cluster token.
 */
export const MAX_CONTEXT_ZIP_BYTES = 2.5 * 1024 * 1024;

export class AttachError extends Error {
  override name = 'AttachError';
}

function walk(dir: string, root: string, out: Record<string, Uint8Array>): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) walk(path, root, out);
    else if (st.isFile()) out[relative(root, path).split('\\').join('/')] = readFileSync(path);
  }
}

/** The zip of the attached files, base64, or undefined when none are attached. */
export function attachFiles(paths: readonly string[], cwd = process.cwd()): { base64: string; files: string[]; zipBytes: number } | undefined {
  if (paths.length === 0) return undefined;
  const entries: Record<string, Uint8Array> = {};
  if (paths.includes('.')) {
    if (paths.length > 1) throw new AttachError('--file . attaches the current folder and cannot be combined with other --file paths');
    walk(resolve(cwd), resolve(cwd), entries);
    if (Object.keys(entries).length === 0) throw new AttachError('--file .: the current folder holds no files');
  } else {
    for (const p of paths) {
      const full = resolve(cwd, p);
      let st;
      try {
        st = statSync(full);
      } catch {
        throw new AttachError(`--file ${p}: no such file`);
      }
      if (!st.isFile()) throw new AttachError(`--file ${p}: not a file (only "." attaches a folder: the current one)`);
      const name = basename(full);
      if (entries[name]) throw new AttachError(`--file ${p}: another attached file is also named ${name} (files are attached by their base names)`);
      entries[name] = readFileSync(full);
    }
  }
  const zip = zipSync(entries, { level: 6 });
  if (zip.length > MAX_CONTEXT_ZIP_BYTES) {
    throw new AttachError(`the attached files zip to ${(zip.length / 1024 / 1024).toFixed(1)} MiB; at most ${MAX_CONTEXT_ZIP_BYTES / 1024 / 1024} MiB fits in a request (ARM refuses bodies over 4 MB)`);
  }
  return { base64: Buffer.from(zip).toString('base64'), files: Object.keys(entries).sort(), zipBytes: zip.length };
}
