import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inflateSync } from "node:zlib";
import { DISPLAY_NAME, KERNEL_NAME, kernelDir, packageRoot, parseArgs, userDataDir } from "../../kernel/install";
import { crc32, encodePng, logoPng } from "../../kernel/logo";

const INSTALL_JS = path.join(packageRoot(), "dist", "kernel", "install.js");

test("the installer CLI writes a kernel spec with absolute paths that exist, plus logos", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-kspec-"));
  try {
    const out = execFileSync(process.execPath, [INSTALL_JS, "--jupyter-path", tmp], { encoding: "utf8" });
    const dir = path.join(tmp, "kernels", KERNEL_NAME);
    assert.match(out, new RegExp(`Installed the "${DISPLAY_NAME.replace(/[()]/g, "\\$&")}" kernel spec in ${dir}`));
    const spec = JSON.parse(fs.readFileSync(path.join(dir, "kernel.json"), "utf8"));
    assert.equal(spec.display_name, "FlexOlmo Lab (TypeScript)");
    assert.equal(spec.language, "typescript");
    assert.equal(spec.interrupt_mode, "signal");
    const [node, req, preload, tslab, ...rest] = spec.argv as string[];
    assert.equal(req, "--require");
    assert.deepEqual(rest, ["kernel", "--config-path", "{connection_file}"]);
    for (const p of [node, preload, tslab]) {
      assert.ok(path.isAbsolute(p), `${p} is absolute`);
      assert.ok(fs.existsSync(p), `${p} exists`);
    }
    assert.ok(preload.endsWith(path.join("dist", "kernel", "preload.js")));
    assert.ok(tslab.endsWith(path.join("tslab", "bin", "tslab")));
    for (const f of ["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"]) assert.ok(fs.statSync(path.join(dir, f)).size > 0, f);
    // Re-installing replaces the spec in place and leaves no temp folders behind.
    execFileSync(process.execPath, [INSTALL_JS, "--jupyter-path", tmp], { encoding: "utf8" });
    assert.deepEqual(fs.readdirSync(path.join(tmp, "kernels")), [KERNEL_NAME]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("installer arguments: one target, clear errors otherwise", () => {
  assert.deepEqual(parseArgs([]), { kind: "user" });
  assert.deepEqual(parseArgs(["--prefix", "/x"]), { kind: "prefix", dir: "/x" });
  assert.deepEqual(parseArgs(["--jupyter-path", "/j"]), { kind: "jupyter-path", dir: "/j" });
  assert.equal(parseArgs(["--help"]), "help");
  assert.throws(() => parseArgs(["--prefix"]), /--prefix needs a value \(DIR\)/);
  assert.throws(() => parseArgs(["--prefix", "--user"]), /--prefix needs a directory argument \(got "--user"\)/);
  assert.throws(() => parseArgs(["--user", "--prefix", "/x"]), /Choose one of/);
  assert.throws(() => parseArgs(["--sys-prefix"]), /unknown flag --sys-prefix \(did you mean --prefix\?\)/);
  assert.equal(kernelDir({ kind: "prefix", dir: "/p" }), path.join("/p", "share", "jupyter", "kernels", KERNEL_NAME));
});

test("the per-user folder follows jupyter_core's rules", () => {
  assert.equal(userDataDir({ JUPYTER_DATA_DIR: "/d" }, "linux"), "/d");
  assert.equal(userDataDir({ XDG_DATA_HOME: "/xdg" }, "linux"), path.join("/xdg", "jupyter"));
  assert.equal(userDataDir({}, "darwin"), path.join(os.homedir(), "Library", "Jupyter"));
  assert.equal(userDataDir({ APPDATA: "/appdata" }, "win32"), path.join("/appdata", "jupyter"));
});

test("PNG encoder: standard CRC-32 check value, and a decodable image", () => {
  // The CRC-32 of the ASCII string "123456789" is 0xCBF43926 (the published check value of CRC-32/ISO-HDLC).
  assert.equal(crc32(Buffer.from("123456789", "ascii")), 0xcbf43926);
  // A 2×1 image: red, then half-transparent blue. Decode IDAT by hand: each row = filter byte 0 + RGBA.
  const png = encodePng(2, 1, new Uint8Array([255, 0, 0, 255, 0, 0, 255, 128]));
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const idatAt = png.indexOf("IDAT");
  const len = png.readUInt32BE(idatAt - 4);
  assert.deepEqual([...inflateSync(png.subarray(idatAt + 4, idatAt + 4 + len))], [0, 255, 0, 0, 255, 0, 0, 255, 128]);
  assert.equal(png.readUInt32BE(idatAt + 4 + len), crc32(png.subarray(idatAt, idatAt + 4 + len)));
  // The logo: 64×64, opaque in a block's centre, transparent in the gap between blocks.
  const logo = logoPng(64);
  const at = logo.indexOf("IDAT");
  const raw = inflateSync(logo.subarray(at + 4, at + 4 + logo.readUInt32BE(at - 4)));
  const alpha = (x: number, y: number) => raw[y * (64 * 4 + 1) + 1 + x * 4 + 3];
  assert.equal(alpha(16, 16), 255);
  assert.equal(alpha(31, 31), 0);
  assert.throws(() => encodePng(2, 2, new Uint8Array(3)), /expected 16 bytes of RGBA, got 3/);
});
