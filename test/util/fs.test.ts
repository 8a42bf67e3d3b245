/** The file-system helpers every loader and saver goes through (lib/util/fs.ts) and the terminal escaper (lib/util/text.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { FileError, describeFsError, makeDirs, processAlive, readRegularFile, readTextFile, writeFileAtomic } from "../../lib/util/fs";
import { quoted, terminalSafe } from "../../lib/util/text";
import { tempDir } from "../io/fixtures";

test("makeDirs creates missing parents, tolerates existing ones, and fails (never spins) where folders cannot be", { timeout: 120_000 }, () => {
  const { dir, cleanup } = tempDir("flexolmo-fs-");
  try {
    const deep = path.join(dir, "a", "b", "c");
    assert.deepEqual(makeDirs(deep), [path.join(dir, "a"), path.join(dir, "a", "b"), deep]);
    assert.deepEqual(makeDirs(deep), [], "existing: nothing to do");
    fs.writeFileSync(path.join(dir, "f"), "");
    assert.throws(() => makeDirs(path.join(dir, "f", "x", "y")), (e: unknown) => e instanceof FileError && /cannot create the folder .*f\/x\/y: .*\/f exists and is not a directory/.test(e.message));
    if (fs.existsSync("/proc/self")) {
      // Node's fs.mkdirSync("/proc/x/y", { recursive: true }) loops forever at 100 % CPU.
      assert.throws(() => makeDirs("/proc/flexolmo-x/y"), /cannot create the folder \/proc\/flexolmo-x: \/proc does not accept new folders \(a virtual file system such as \/proc or \/sys\?\); choose a path on a real disk/);
    }
  } finally {
    cleanup();
  }
});

test("readRegularFile: regular files within the limit only, FIFOs refused without blocking, links followed", { timeout: 120_000 }, () => {
  const { dir, cleanup } = tempDir("flexolmo-fs-");
  try {
    const f = path.join(dir, "x.json");
    fs.writeFileSync(f, "hello");
    assert.equal(readRegularFile(f, "a test file", 5).toString(), "hello");
    assert.throws(() => readRegularFile(f, "a test file", 4), /cannot read a test file .*x\.json: it is 5 bytes, over the 4 bytes limit for a test file/);
    fs.symlinkSync(f, path.join(dir, "link"));
    assert.equal(readTextFile(path.join(dir, "link"), "a test file", 100), "hello");
    execFileSync("mkfifo", [path.join(dir, "pipe")]);
    assert.throws(() => readRegularFile(path.join(dir, "pipe"), "a test file", 100), /it is a FIFO \(named pipe\), not a regular file/);
    assert.throws(() => readRegularFile("/dev/null", "a test file", 100), /it is a character device/);
    assert.throws(() => readRegularFile(dir, "a test file", 100), /it is a directory, not a regular file/);
    fs.writeFileSync(f, Buffer.from([0xc3, 0x28]));
    assert.throws(() => readTextFile(f, "a test file", 100), /it is not valid UTF-8 text/);
  } finally {
    cleanup();
  }
});

test("writeFileAtomic replaces a file whole and leaves no temporary file; failures say what to do", () => {
  const { dir, cleanup } = tempDir("flexolmo-fs-");
  try {
    const f = path.join(dir, "card.md");
    writeFileAtomic(f, "one");
    writeFileAtomic(f, "two");
    assert.equal(fs.readFileSync(f, "utf-8"), "two");
    assert.deepEqual(fs.readdirSync(dir), ["card.md"]);
    fs.mkdirSync(path.join(dir, "d"));
    assert.throws(() => writeFileAtomic(path.join(dir, "d"), "x"), /cannot write .*\/d: /);
    assert.deepEqual(fs.readdirSync(dir).sort(), ["card.md", "d"]);
  } finally {
    cleanup();
  }
});

test("describeFsError and processAlive", () => {
  const e = Object.assign(new Error("EROFS: read-only file system, mkdir '/mnt/x'"), { code: "EROFS" });
  assert.equal(describeFsError(e, "create the folder", "/mnt/x").message, "cannot create the folder /mnt/x: the file system is read-only (choose a path on a writable disk) [EROFS]");
  assert.equal(describeFsError(new Error("odd"), "read", "/y").message, "cannot read /y: odd");
  assert.equal(processAlive(process.pid), true);
  const r = spawnSync(process.execPath, ["-e", ""]);
  assert.equal(processAlive(r.pid!), false);
  assert.equal(processAlive(-1), false);
});

test("terminalSafe escapes every control, C1 and bidi character as a JSON-compatible \\uXXXX, keeping newlines and tabs", () => {
  assert.equal(terminalSafe("a\x1b[2Jb\x07c\r\u009bd\u202ee\u2066f\x7f"), "a\\u001b[2Jb\\u0007c\\u000d\\u009bd\\u202ee\\u2066f\\u007f");
  assert.equal(terminalSafe("line 1\n\tline 2 — ünïcödé 🧪"), "line 1\n\tline 2 — ünïcödé 🧪");
  const v = { name: "x\u009b2J\u202e" };
  assert.deepEqual(JSON.parse(terminalSafe(JSON.stringify(v))), v, "escaped JSON still parses to the same value");
  assert.equal(quoted("a\x1bb"), '"a\\u001bb"');
});
