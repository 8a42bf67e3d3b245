/**
 * FlexOlmo's ablations (docs/method.md §2.2, §2.4, §4.2; paper Tables 1 and 3) as flags of the ordinary
 * pipeline — `lab.owner(d, { init, bias })`, `flex.merge`, `model.tuneRouter` — not as separate code:
 *
 *   flexolmo      FlexOlmo, no RT: external domain-embedding init, bias β₀ = −1      (46.7 in Table 1)
 *   rt            the same merged model after router tuning on public proxies        (47.8)
 *   noBias        − no bias: `bias: false`                                           (45.8)
 *   randomInit    − no domain-embedding init, no bias: `init: "random", bias: false`  (44.4)
 *   publicInit    router rows from the public model's own hidden states: `init: "public"` (Table 3: 43.5)
 *
 * ("− no training to coordinate" needs dense experts: `baselines.naiveMerge`.)
 */
import type { EmbedderName } from "../embed";
import type { Lab } from "../lab";
import type { OwnerExpert } from "../owner";
import type { PublicModel } from "../public";
import type { FlexModel } from "../model";
import type { TrainRecord } from "../records";
import { merge } from "../merge";
import { tuneRouter } from "../tune";

export type VariantKey = "flexolmo" | "rt" | "noBias" | "randomInit" | "publicInit";

/** The owner flags of each trained variant and its table label. `rt` reuses `flexolmo`'s owners. */
export const VARIANTS: Record<Exclude<VariantKey, "rt">, { label: string; init: EmbedderName; bias: number | false | undefined }> = {
  flexolmo: { label: "FlexOlmo (no RT)", init: "external", bias: undefined }, // the owner default (β₀ = −1)
  noBias: { label: "− no bias", init: "external", bias: false },
  randomInit: { label: "− no domain-emb init, no bias", init: "random", bias: false },
  publicInit: { label: "− public-model emb init", init: "public", bias: undefined },
};
export const RT_LABEL = "FlexOlmo (RT)";

export interface VariantsOptions {
  /** Training steps per owner (every variant trains the same). */
  steps: number;
  /** Router-tuning steps for the RT variant (default 0: no RT variant). */
  rtSteps?: number;
  /** Which variants (default: all; "rt" needs rtSteps > 0 and also builds "flexolmo"). */
  only?: readonly VariantKey[];
  /** Experts per token in each merged model (default: flex.merge's, half rounded up). */
  k?: number;
  /** Documents per domain embedding (default 1 000). */
  docs?: number;
  /** Public documents per domain for RT proxies (default: tuneRouter's). */
  proxyDocs?: number;
  /** Progress lines ("training owner math for − no bias"). */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface FlexOlmoVariants {
  /** The merged models by key, each labelled for tables. */
  models: Partial<Record<VariantKey, FlexModel>>;
  /** The same, in a fixed order (flexolmo, rt, noBias, randomInit, publicInit). */
  list: FlexModel[];
  /** Owner training records per variant and domain. */
  training: Partial<Record<VariantKey, Record<string, TrainRecord>>>;
  /** Wall-clock seconds to build each variant (owners + merge; RT: the tuning only). */
  seconds: Partial<Record<VariantKey, number>>;
}

/**
 * Train one owner per domain for each variant from the same public model, merge each set, and
 * (optionally) router-tune the FlexOlmo merge. Owners are disposed after merging (a merge copies).
 */
export async function flexolmoVariants(lab: Lab, pub: PublicModel, domains: readonly string[], opts: VariantsOptions): Promise<FlexOlmoVariants> {
  if (!opts || !Number.isInteger(opts.steps) || opts.steps < 1) throw new Error("flexolmoVariants: pass { steps: N } (owner training steps, N ≥ 1).");
  if (!Array.isArray(domains) || domains.length === 0) throw new Error('flexolmoVariants: name at least one owner domain, e.g. ["math", "code"].');
  const rtSteps = opts.rtSteps ?? 0;
  if (!Number.isInteger(rtSteps) || rtSteps < 0) throw new Error(`flexolmoVariants: rtSteps must be a non-negative integer (got ${rtSteps}).`);
  const all: VariantKey[] = ["flexolmo", "rt", "noBias", "randomInit", "publicInit"];
  const only = opts.only ?? all.filter((k) => k !== "rt" || rtSteps > 0);
  for (const k of only) if (!all.includes(k)) throw new Error(`flexolmoVariants: unknown variant "${k}". Variants: ${all.join(", ")}.`);
  if (only.includes("rt") && rtSteps === 0) throw new Error('flexolmoVariants: the "rt" variant needs rtSteps > 0.');
  for (const d of domains) lab.data.checkDomain(d); // fail before any training
  const log = opts.log ?? (() => undefined);
  const out: FlexOlmoVariants = { models: {}, list: [], training: {}, seconds: {} };
  const trained = all.filter((k): k is Exclude<VariantKey, "rt"> => k !== "rt" && (only.includes(k) || (k === "flexolmo" && only.includes("rt"))));
  for (const key of trained) {
    const v = VARIANTS[key];
    const t0 = performance.now();
    const owners: OwnerExpert[] = [];
    const records: Record<string, TrainRecord> = {};
    try {
      for (const d of domains) {
        log(`${v.label}: training owner "${d}" (${opts.steps} steps, init ${v.init}, bias ${v.bias === false ? "none" : (v.bias ?? -1)})`);
        const o = lab.owner(d, { from: pub, init: v.init, bias: v.bias, docs: opts.docs });
        owners.push(o);
        records[d] = await o.train({ steps: opts.steps, signal: opts.signal });
      }
      out.models[key] = await merge(pub, owners, { k: opts.k, label: v.label }); // owns its tensors: the caller disposes it
    } finally {
      owners.forEach((o) => o.dispose());
    }
    out.training[key] = records;
    out.seconds[key] = (performance.now() - t0) / 1000;
  }
  if (only.includes("rt")) {
    const t0 = performance.now();
    log(`${RT_LABEL}: router tuning (${rtSteps} steps)`);
    out.models.rt = await tuneRouter(out.models.flexolmo!, lab, { steps: rtSteps, proxyDocs: opts.proxyDocs, signal: opts.signal, label: RT_LABEL });
    out.seconds.rt = (performance.now() - t0) / 1000;
  }
  // "flexolmo" was built only for RT: keep it anyway (it is the no-RT row every table wants).
  out.list = all.map((k) => out.models[k]).filter((m): m is FlexModel => m !== undefined);
  return out;
}
