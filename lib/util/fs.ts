/**
 * File-system access for files someone else wrote and folders someone else named.
 *
 * Checkpoints travel between data owners, so every path a loader opens may be a symbolic link to
 * /dev/zero, a FIFO, a directory or a multi-gigabyte file, and every folder a save creates may sit
 * somewhere Node's own helpers misbehave (`mkdirSync(…, { recursive: true })` spins forever under
 * /proc). Everything here is the one place that knows those traps:
 *
 *   - `openRegularFile` / `readRegularFile`: open without blocking (a FIFO would wait for a writer
 *     forever), follow symbolic links, then accept only a regular file no larger than the limit the
 *     caller gives for that kind of file;
 *   - `makeDirs`: `mkdir -p` one component at a time, with an error instead of a loop;
 *   - `describeFsError`: turn a Node error code into what was wrong and what to do.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** A file-system problem, said plainly. `code` keeps Node's error code (ENOENT, EACCES, …) for callers that branch on it. */
export class FileError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "FileError";
  }
}

/** Node's system errors carry a string `code`; anything else is a bug and is rethrown as is. */
function errnoCode(e: unknown): string | undefined {
  const c = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof c === "string" ? c : undefined;
}

/** "1.5 MiB": sizes in messages people read. */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/**
 * What went wrong with `file` while doing `action` ("read", "create the folder", …), and what to do,
 * for the error codes a user can act on. Unknown codes keep Node's message (never a bare code).
 */
export function describeFsError(e: unknown, action: string, file: string): FileError {
  const code = errnoCode(e);
  const raw = e instanceof Error ? e.message : String(e);
  const why: Record<string, string> = {
    ENOENT: "it does not exist (check the path)",
    EACCES: "permission denied (check the permissions of the file and its folders, or choose another path)",
    EPERM: "the operation is not permitted here (check the permissions, or choose another path)",
    EROFS: "the file system is read-only (choose a path on a writable disk)",
    ENOSPC: "the disk is full (free some space or choose another disk)",
    EDQUOT: "your disk quota is exhausted (free some space or choose another disk)",
    EISDIR: "it is a directory where a file was expected (pass the file, or remove the directory)",
    ENOTDIR: "a component of the path is a file, not a directory (check the path)",
    EEXIST: "something already exists at that path (remove it or choose another path)",
    ENOTEMPTY: "a directory with that name already exists and is not empty (remove it or choose another path)",
    ELOOP: "it is a symbolic link that points (directly or not) to itself (fix or remove the link)",
    ENAMETOOLONG: "the path is too long for the file system (choose a shorter path)",
    EMFILE: "too many files are open in this process (close some, or raise the limit with ulimit -n)",
    ENFILE: "too many files are open on this machine (close some and try again)",
    EXDEV: "it would move a folder across file systems (keep the temporary folder and the target on one disk)",
    EBUSY: "the file or folder is in use by another program (close it and try again)",
    EIO: "the disk reported an I/O error (check the disk)",
    ENXIO: "it is a device or a pipe with nothing on the other end, not a file",
  };
  const text = code && why[code] ? `${why[code]} [${code}]` : raw;
  return new FileError(`cannot ${action} ${file}: ${text}`, code);
}

/** What a non-regular file is, for the error message. */
function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

export interface OpenedFile {
  fd: number;
  /** Size in bytes at open time (fstat of the open descriptor, so it is the file actually read). */
  size: number;
  /** The path as given (for messages). */
  path: string;
}

/**
 * Open `file` for reading if, after following symbolic links, it is a regular file of at most
 * `maxBytes`. O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer; the
 * type is then checked on the open descriptor itself, so the file cannot be swapped between the
 * check and the read. `what` names the file kind in errors ("config.json", "a safetensors file").
 */
export function openRegularFile(file: string, what: string, maxBytes: number): OpenedFile {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw describeFsError(e, `read ${what}`, file);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new FileError(`cannot read ${what} ${file}: it is ${kindOf(st)}, not a regular file (replace it with the real file)`, "ENOTFILE");
    }
    if (st.size > maxBytes) {
      throw new FileError(`cannot read ${what} ${file}: it is ${formatBytes(st.size)}, over the ${formatBytes(maxBytes)} limit for ${what} (is it the right file?)`, "EFBIG");
    }
    return { fd, size: st.size, path: file };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Read exactly `length` bytes at `position`, or fail saying the file shrank (it was changed while being read). */
export function readExactly(f: OpenedFile, buf: Uint8Array, position: number, length = buf.length): void {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = fs.readSync(f.fd, buf, done, length - done, position + done);
    } catch (e) {
      throw describeFsError(e, "read", f.path);
    }
    if (n === 0) throw new FileError(`cannot read ${f.path}: the file ended after ${position + done} bytes; it was probably changed while being read (try again)`, "ESHORT");
    done += n;
  }
}

/** The whole of a regular file of at most `maxBytes` (see `openRegularFile`). */
export function readRegularFile(file: string, what: string, maxBytes: number): Buffer {
  const f = openRegularFile(file, what, maxBytes);
  try {
    const buf = Buffer.alloc(f.size);
    readExactly(f, buf, 0);
    return buf;
  } finally {
    fs.closeSync(f.fd);
  }
}

/** A regular file as UTF-8 text; invalid UTF-8 is an error, not replacement characters. */
export function readTextFile(file: string, what: string, maxBytes: number): string {
  const bytes = readRegularFile(file, what, maxBytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new FileError(`cannot read ${what} ${file}: it is not valid UTF-8 text (is it the right file?)`, "EBADTEXT");
  }
}

/**
 * `mkdir -p` that cannot hang. Node's recursive mkdirSync retries forever when the kernel answers
 * ENOENT for a directory whose parent exists (it does under /proc and /sys); here each missing
 * component is created once, in order, and any refusal becomes a `FileError` that names the
 * component. Returns the directories it created, outermost first.
 */
export function makeDirs(dir: string): string[] {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let p = target; ; p = path.dirname(p)) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch (e) {
      const code = errnoCode(e);
      // ENOTDIR: some ancestor is a file; keep walking up so the message can name it.
      if (code !== "ENOENT" && code !== "ENOTDIR") throw describeFsError(e, "create the folder", target);
    }
    if (st) {
      if (!st.isDirectory()) throw new FileError(`cannot create the folder ${target}: ${p} exists and is not a directory (choose another path)`, "ENOTDIR");
      break;
    }
    missing.unshift(p);
    if (path.dirname(p) === p) break; // a missing root: mkdir below reports it
  }
  for (const p of missing) {
    try {
      fs.mkdirSync(p);
    } catch (e) {
      const code = errnoCode(e);
      if (code === "EEXIST" && isDirectory(p)) continue; // another process made it meanwhile: fine
      if (code === "ENOENT") {
        // The parent exists (we just checked or made it), yet the kernel says "no such file":
        // a virtual file system (/proc, /sys) that does not hold ordinary folders.
        throw new FileError(`cannot create the folder ${p}: ${path.dirname(p)} does not accept new folders (a virtual file system such as /proc or /sys?); choose a path on a real disk`, code);
      }
      throw describeFsError(e, "create the folder", p);
    }
  }
  return missing;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** True when process `pid` is running on this machine (signal 0 probes without sending anything). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === "EPERM"; // exists, owned by someone else
  }
}

/** Write `data` to `file` and fsync it before returning (the caller decides about atomicity). */
export function writeFileDurable(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, "w");
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Write `data` to `file` so that readers see the old content or the new, never half of it: write a
 * temporary sibling, fsync it, rename it over `file`. The temporary file is removed on failure.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.writing-${process.pid}`);
  try {
    writeFileDurable(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw describeFsError(e, "write", file);
  }
}
