/**
 * From extracted chunks to corpus rows:
 *   1. exact duplicates removed across the whole corpus (first occurrence wins);
 *   2. near-duplicates removed within each origin domain (MinHash, Jaccard ≥ 0.8);
 *   3. each closed domain capped by whole parents in hash order (so the cap is deterministic and
 *      does not favour the alphabetically first files);
 *   4. a parent-level slice (8 %) of every closed domain moved to `public`;
 *   5. the split assigned per split group (the parent, or the license family for legal), decided
 *      once per origin domain before the slice, so a group can never straddle splits wherever its
 *      parents end up. Groups are walked in hash order and assigned by where their characters
 *      fall in the cumulative total (first 80 % → train, next 10 % → valid, rest → test): with
 *      only ~50 SOTU addresses a per-group coin flip gave 3 % valid instead of 10 %. Math's
 *      held-out family is forced into `test`.
 */
import type { DocumentRow } from "../../lib/data/arrow";
import { DOMAINS, Domain, SPLITS, Split } from "../../lib/data/corpus";
import { BUILD_CONFIG } from "./config";
import { nearDuplicates } from "./minhash";
import { Doc } from "./types";
import { compareStrings, fmtInt, hashOrder, log } from "./util";

export interface AssembleReport {
  /** Chunks dropped because an identical text (whitespace-normalised) came earlier, by origin. */
  exactDuplicates: Record<string, number>;
  nearDuplicates: Record<string, number>;
  cappedParents: Record<string, { kept: number; dropped: number }>;
  publicSlice: Record<string, number>;
}

/**
 * Split per group: groups in hash order, each assigned by the midpoint of its character range in
 * the running total, so the split sizes match 80/10/10 by characters as closely as whole groups allow.
 */
export function assignSplits(groups: ReadonlyMap<string, number>): Map<string, Split> {
  const total = [...groups.values()].reduce((a, b) => a + b, 0);
  const out = new Map<string, Split>();
  let cum = 0;
  for (const g of hashOrder([...groups.keys()], (g) => g, "split")) {
    const size = groups.get(g)!;
    const mid = (cum + size / 2) / total;
    cum += size;
    out.set(g, mid < BUILD_CONFIG.trainFraction ? "train" : mid < BUILD_CONFIG.trainFraction + BUILD_CONFIG.validFraction ? "valid" : "test");
  }
  return out;
}

/** Unicode code points (what Python's len() counts), not UTF-16 units. */
export function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--; // high surrogate: the pair is one code point
  }
  return n;
}

function groupByParent(docs: readonly Doc[]): Map<string, Doc[]> {
  const m = new Map<string, Doc[]>();
  for (const d of docs) {
    const l = m.get(d.parent);
    if (l) l.push(d);
    else m.set(d.parent, [d]);
  }
  return m;
}

export function assemble(all: readonly Doc[]): { rows: DocumentRow[]; report: AssembleReport } {
  const report: AssembleReport = { exactDuplicates: {}, nearDuplicates: {}, cappedParents: {}, publicSlice: {} };

  // 1. Exact duplicates, corpus-wide.
  const seen = new Set<string>();
  const unique = all.filter((d) => {
    const key = d.text.replace(/\s+/g, " ").trim();
    if (seen.has(key)) {
      report.exactDuplicates[d.origin] = (report.exactDuplicates[d.origin] ?? 0) + 1;
      return false;
    }
    seen.add(key);
    return true;
  });

  const rows: DocumentRow[] = [];
  for (const origin of DOMAINS) {
    let docs = unique.filter((d) => d.origin === origin);
    if (docs.length === 0) throw new Error(`assemble: no documents extracted for domain "${origin}"`);

    // 2. Near-duplicates within the domain.
    const { keep, dropped } = nearDuplicates(docs.map((d) => d.text), BUILD_CONFIG.minhash);
    report.nearDuplicates[origin] = dropped.length;
    docs = keep.map((i) => docs[i]);

    // 3. Cap by whole parents in hash order (held-out math sheets are outside the cap).
    const byParent = groupByParent(docs);
    const parents = [...byParent.keys()];
    const heldOut = parents.filter((p) => byParent.get(p)![0].heldOut);
    const regular = parents.filter((p) => !byParent.get(p)![0].heldOut);
    let chosen = regular;
    if (origin !== "public") {
      chosen = [];
      let total = 0;
      for (const p of hashOrder(regular, (p) => p, "cap")) {
        if (total >= BUILD_CONFIG.capChars) break;
        chosen.push(p);
        total += byParent.get(p)!.reduce((s, d) => s + d.text.length, 0);
      }
    }
    report.cappedParents[origin] = { kept: chosen.length, dropped: regular.length - chosen.length };

    // 4. Public slice: a fixed fraction of the chosen parents, by another hash order.
    const toPublic = new Set<string>();
    if (origin !== "public") {
      const k = Math.round(BUILD_CONFIG.publicFraction * chosen.length);
      for (const p of hashOrder(chosen, (p) => p, "public").slice(0, k)) toPublic.add(p);
    }
    report.publicSlice[origin] = toPublic.size;

    // 5. Splits per group, then rows.
    const groupChars = new Map<string, number>();
    for (const p of chosen) for (const d of byParent.get(p)!) groupChars.set(d.group, (groupChars.get(d.group) ?? 0) + d.text.length);
    const splitOfGroup = assignSplits(groupChars);
    for (const p of [...chosen, ...heldOut]) {
      for (const d of byParent.get(p)!) {
        const domain: Domain = toPublic.has(p) ? "public" : origin;
        rows.push({
          id: `${d.parent}#${d.chunk}`,
          domain,
          origin: d.origin,
          family: d.family,
          parent: d.parent,
          split: d.heldOut ? "test" : splitOfGroup.get(d.group)!,
          source: d.source,
          license: d.license,
          text: d.text,
        });
      }
    }
    log(`  ${origin.padEnd(11)} ${fmtInt(byParent.size).padStart(6)} parents, near-dups -${dropped.length}, kept ${fmtInt(chosen.length + heldOut.length)} parents, → public ${toPublic.size}`);
  }

  // Stable, meaningful order: domain, split, parent, chunk. Similar texts sit together, which
  // also helps compression.
  const di = new Map(DOMAINS.map((d, i) => [d as string, i]));
  const si = new Map(SPLITS.map((s, i) => [s as string, i]));
  const chunkOf = (id: string) => parseInt(id.slice(id.lastIndexOf("#") + 1), 10);
  rows.sort((a, b) => di.get(a.domain)! - di.get(b.domain)! || si.get(a.split)! - si.get(b.split)! || compareStrings(a.parent, b.parent) || chunkOf(a.id) - chunkOf(b.id));

  const ids = new Set<string>();
  for (const r of rows) {
    if (ids.has(r.id)) throw new Error(`assemble: duplicate id ${r.id}`);
    ids.add(r.id);
  }
  return { rows, report };
}
