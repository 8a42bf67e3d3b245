/**
 * The CLI facing hostile checkpoints and awkward environments (issue 16): no raw control characters
 * from a checkpoint reach the terminal, a closed pipe ends the process quietly, file-system errors
 * say what to do, `logits --file` takes long texts, output folders that cannot exist fail at once.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../../lib/backend";
import { errorMessage, main } from "../../lib/cli/main";
import { saveCheckpoint } from "../../lib/io/checkpoint";
import { disposeParams } from "../../lib/model/model";
import { randomParams, tempDir, tinyConfig } from "../io/fixtures";
import { CLI, cli, inProcess } from "./helpers";

const tmp = tempDir("flexolmo-cli-hostile-");
const CK = path.join(tmp.dir, "ck");
const EVIL = path.join(tmp.dir, "evil");
// ESC c (reset: clears the screen), OSC 0 (retitle the window) ended by BEL, a C1 CSI, a bidi override.
const NASTY = "news\x1bc\x1b]0;pwned\x07\u009b2J\u202e";
const cfg = tinyConfig(); // experts public, news, code
const evilCfg = tinyConfig({ experts: ["public", NASTY, "code"] });

before(async () => {
  await initBackend("cpu");
  const p = randomParams(cfg, 77);
  await saveCheckpoint(CK, { config: cfg, params: p });
  await saveCheckpoint(EVIL, { config: evilCfg, params: p, sidecar: { dataCards: { code: { owner: "\x1b[2J\x1b[31mred" } }, metadata: { note: "\x9b31m" } } });
  disposeParams(p);
});

after(() => tmp.cleanup());



/** Any character a terminal would act on rather than show (newline and tab excepted). */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

test("terminal injection: names, data cards and metadata from a checkpoint are printed escaped, in text and JSON", async () => {
  const text = await inProcess(["info", EVIL]);
  assert.equal(text.code, 0, text.stderr);
  assert.doesNotMatch(text.stdout, CONTROL);
  assert.match(text.stdout, /news\\u001bc\\u001b\]0;pwned\\u0007\\u009b2J\\u202e/);

  const json = await inProcess(["info", EVIL, "--json"]);
  assert.equal(json.code, 0);
  assert.doesNotMatch(json.stdout, CONTROL);
  const parsed = JSON.parse(json.stdout) as { experts: { name: string; dataCard: unknown }[]; metadata: unknown };
  assert.equal(parsed.experts[1].name, NASTY, "the escapes are JSON escapes: the value survives");
  assert.deepEqual(parsed.experts[2].dataCard, { owner: "\x1b[2J\x1b[31mred" });
  assert.deepEqual(parsed.metadata, { note: "\x9b31m" });

  // Error messages carry checkpoint strings too (here an unknown expert list); they are escaped as well.
  const err = await inProcess(["logits", EVIL, "--ids", "1", "--without", "sports"]);
  assert.equal(err.code, 2);
  assert.doesNotMatch(err.stderr, CONTROL);
  assert.match(err.stderr, /1=news\\u001bc/);
  // And logits' JSON output.
  const lg = await inProcess(["logits", EVIL, "--ids", "1,2"]);
  assert.equal(lg.code, 0, lg.stderr);
  assert.doesNotMatch(lg.stdout, CONTROL);
  assert.equal((JSON.parse(lg.stdout) as { experts: string[] }).experts[1], NASTY);
});

test("a tensor name with escape codes in a broken file is escaped in the error", async () => {
  const bad = path.join(tmp.dir, "badname");
  fs.cpSync(CK, bad, { recursive: true });
  const { readSafetensors, writeSafetensors } = await import("../../lib/io/safetensors");
  const file = path.join(bad, "model.safetensors");
  const { tensors } = readSafetensors(file);
  writeSafetensors(file, [...[...tensors.values()].map((t) => ({ name: t.name, shape: t.shape, data: t.data })), { name: "x\x1b]2;owned\x07", shape: [1], data: new Float32Array(1) }]);
  const r = await inProcess(["info", bad]);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stderr, CONTROL);
  assert.match(r.stderr, /unexpected tensor "x\\u001b\]2;owned\\u0007"/);
});

test("EPIPE: output piped into a reader that has gone away ends quietly, exit 0, no stack trace", { timeout: 300_000 }, async () => {
  const child = spawn(process.execPath, [CLI, "info", CK, "--json"], { env: { ...process.env, FLEXOLMO_BACKEND: "cpu" }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.destroy(); // the reader closes before the first write, like `| head -c0`
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  assert.equal(stderr, "", "nothing on stderr");
  assert.equal(code, 0);
});

test("file-system errors that reach the top say what was wrong and what to do", () => {
  const mk = (code: string, syscall: string, p: string) => Object.assign(new Error(`${code}: raw, ${syscall} '${p}'`), { code, syscall, path: p });
  assert.equal(errorMessage(mk("EACCES", "open", "/x/y")), "cannot open /x/y: permission denied (check the permissions of the file and its folders, or choose another path) [EACCES]");
  assert.match(errorMessage(mk("EISDIR", "read", "/x/y")), /cannot read \/x\/y: it is a directory where a file was expected/);
  assert.match(errorMessage(mk("EEXIST", "mkdir", "/x/y")), /cannot create the folder \/x\/y: something already exists at that path \(remove it or choose another path\)/);
  assert.match(errorMessage(mk("ENOSPC", "write", "/x/y")), /the disk is full/);
  assert.equal(errorMessage(new Error("plain")), "plain");
});

test("permission denied, for real: reading a locked checkpoint and saving into a read-only folder say so (run as nobody when the tests run as root)", { timeout: 120_000 }, () => {
  // Root reads and writes through any permission bits, so as root the child runs as "nobody".
  const asRoot = process.getuid?.() === 0;
  const who = asRoot ? { uid: 65534, gid: 65534 } : {};
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-eacces-"));
  try {
    fs.chmodSync(base, 0o755);
    const locked = path.join(base, "locked");
    fs.cpSync(CK, locked, { recursive: true });
    fs.chmodSync(locked, 0o755);
    for (const f of fs.readdirSync(locked)) fs.chmodSync(path.join(locked, f), 0o644);
    fs.chmodSync(path.join(locked, "config.json"), 0o000);
    const info = spawnSync(process.execPath, [CLI, "info", locked], { encoding: "utf-8", env: { ...process.env, FLEXOLMO_BACKEND: "cpu" }, ...who });
    assert.equal(info.status, 1, info.stderr);
    assert.match(info.stderr, /config\.json: permission denied \(check the permissions of the file and its folders, or choose another path\) \[EACCES\]/);
    assert.doesNotMatch(info.stderr, /\n\s+at /, "no stack trace");
    const ro = path.join(base, "read-only");
    fs.mkdirSync(ro, { mode: 0o555 });
    fs.chmodSync(ro, 0o555);
    const script = `
      const { initBackend } = require(${JSON.stringify(path.resolve(__dirname, "../../lib/backend"))});
      const { saveCheckpoint } = require(${JSON.stringify(path.resolve(__dirname, "../../lib/io/checkpoint"))});
      const { randomParams, tinyConfig } = require(${JSON.stringify(path.resolve(__dirname, "../io/fixtures"))});
      initBackend("cpu").then(() => saveCheckpoint(${JSON.stringify(path.join(ro, "ck"))}, { config: tinyConfig(), params: randomParams(tinyConfig(), 1) }))
        .then(() => console.log("saved"), (e) => { console.log(e.message); process.exitCode = 3; });`;
    const save = spawnSync(process.execPath, ["-e", script], { encoding: "utf-8", ...who });
    assert.equal(save.status, 3, save.stdout + save.stderr);
    assert.match(save.stdout, /read-only.*permission denied \(check the permissions of the file and its folders, or choose another path\) \[EACCES\]/);
    assert.deepEqual(fs.readdirSync(ro), [], "nothing left behind");
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test("logits --file reads long text from a file or standard input, with clear refusals", { timeout: 300_000 }, async () => {
  const { trainByteLevelBpe } = await import("../../lib/data/bpe-train");
  const { tokenizerFromJson } = await import("../../lib/data/tokenizer");
  const tokJson = trainByteLevelBpe(["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"], { vocabSize: 270 });
  const tokFile = path.join(tmp.dir, "tokenizer.json");
  fs.writeFileSync(tokFile, JSON.stringify(tokJson));
  const textCfg = tinyConfig({ vocabSize: tokenizerFromJson(tokJson).vocabSize });
  const p = randomParams(textCfg, 5);
  const CK = path.join(tmp.dir, "ck-text"); // a model whose vocabulary fits the tokenizer
  await saveCheckpoint(CK, { config: textCfg, params: p });
  disposeParams(p);
  const textFile = path.join(tmp.dir, "text.txt");
  fs.writeFileSync(textFile, "the cat sat");

  const viaText = await inProcess(["logits", CK, "--text", "the cat sat", "--tokenizer", tokFile]);
  assert.equal(viaText.code, 0, viaText.stderr);
  const viaFile = await inProcess(["logits", CK, "--file", textFile, "--tokenizer", tokFile]);
  assert.equal(viaFile.code, 0, viaFile.stderr);
  assert.equal(viaFile.stdout, viaText.stdout, "--file gives what --text gives");
  const viaStdin = cli(["logits", CK, "--file", "-", "--tokenizer", tokFile], "the cat sat");
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  assert.equal(viaStdin.stdout, viaText.stdout, "--file - reads standard input");

  const big = path.join(tmp.dir, "big.txt");
  fs.writeFileSync(big, "");
  fs.truncateSync(big, 17 << 20);
  const cases: [string[], RegExp][] = [
    [["--file", big], /--file: cannot read the --file text .*big\.txt: it is 17 MiB, over the 16 MiB limit for the --file text/],
    [["--file", "/dev/zero"], /--file: cannot read the --file text \/dev\/zero: it is a character device, not a regular file/],
    [["--file", tmp.dir], /it is a directory, not a regular file/],
    [["--file", path.join(tmp.dir, "absent.txt")], /absent\.txt: it does not exist/],
    [["--file", textFile, "--ids", "1"], /exactly one of --ids 1,2,3 or --text/],
  ];
  const badUtf8 = path.join(tmp.dir, "bad.txt");
  fs.writeFileSync(badUtf8, Buffer.from([0x61, 0xff, 0x62]));
  cases.push([["--file", badUtf8], /bad\.txt: it is not valid UTF-8 text/]);
  const empty = path.join(tmp.dir, "empty.txt");
  fs.writeFileSync(empty, "");
  cases.push([["--file", empty], /--file .*empty\.txt: the text is empty/]);
  const fifo = path.join(tmp.dir, "fifo.txt");
  execFileSync("mkfifo", [fifo]);
  cases.push([["--file", fifo], /it is a FIFO \(named pipe\), not a regular file/]);
  for (const [args, re] of cases) {
    const r = await inProcess(["logits", CK, ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
  }
});

test("output folders that cannot exist fail at once with the reason (/proc used to spin at 100 % CPU)", { timeout: 300_000, skip: !fs.existsSync("/proc/self") }, async () => {
  const r = await inProcess(["pipeline", "--preset", "tiny", "--out", "/proc/flexolmo-test/run"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--out \/proc\/flexolmo-test\/run: cannot create the folder \/proc\/flexolmo-test: \/proc does not accept new folders/);
  const file = path.join(tmp.dir, "a-file");
  fs.writeFileSync(file, "");
  const c = await inProcess(["compare", "--preset", "tiny", "--out", path.join(file, "run")]);
  assert.equal(c.code, 2, c.stderr);
  assert.match(c.stderr, /a-file exists and is not a directory/);
});
