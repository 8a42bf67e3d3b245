/**
 * Data governance: every expert carries a data card, and every model knows whether opting out of
 * an expert is exact (docs/method.md §5: structurally exact without router tuning, approximate after it).
 */

/** What one expert was trained on and how: the record an owner publishes with its expert. */
export interface DataCard {
  /** Expert name (usually the domain). */
  expert: string;
  /** Who trained it (free text; defaults to "<domain> owner"). */
  owner: string;
  /** Corpus domain it was trained on ("public" for the public expert). */
  domain: string;
  /** Licences of the documents it saw. */
  licenses: string[];
  /** Distinct documents in the training split it drew from, and tokens actually consumed. */
  documents: number;
  tokensSeen: number;
  /** How its router row was initialised (docs/method.md §2.2). */
  embedding?: {
    embedder: string;
    documents: number;
    sha256: string;
    /** The public domain embedding its row r_pub was set to (every owner of a merge must share it). */
    public?: { documents: number; sha256: string };
  };
  /** The training settings that produced it (steps, lr, batch, β init, …). */
  training: Record<string, unknown>;
  seed: number;
  createdAt: string;
  updatedAt: string;
}

/** Where a model came from, and what that means for opt-out. */
export interface Provenance {
  /** "public" (dense), "owner" (a 2-expert owner model), "merged", "router-tuned", or a "baseline" recipe. */
  kind: "public" | "owner" | "merged" | "router-tuned" | "baseline";
  /** true once any router tuning ran: opt-out is then approximate (docs/method.md §5). */
  routerTuned: boolean;
  /** For baselines: the recipe, and why its opt-out is what it is. */
  baseline?: { method: string; note: string };
  /** Set by recipes whose opt-out guarantee does not follow from router tuning (baselines). */
  optOut?: OptOutGuarantee;
  /** Proxy domains the router was tuned on (their selection used each owner's classifier). */
  tunedOn?: string[];
  /** The public model's trunk fingerprint (sha256 over all trunk tensor hashes). */
  trunk?: string;
}

export type OptOutGuarantee = "exact" | "approximate";

/** Exact without router tuning; approximate after it (every row, r_pub included, saw proxies chosen with D_i). */
export function optOutGuarantee(p: Provenance): OptOutGuarantee {
  return p.optOut ?? (p.routerTuned ? "approximate" : "exact");
}

/** The sentence that explains a model's opt-out guarantee (a baseline's own note when it has one). */
export function optOutNote(p: Provenance): string {
  if (p.baseline) return `${p.baseline.method}: ${p.baseline.note}`;
  return OPT_OUT_NOTE[optOutGuarantee(p)];
}

export const OPT_OUT_NOTE: Record<OptOutGuarantee, string> = {
  exact:
    "Opt-out is exact: every remaining parameter (trunk, other experts, other router rows) was trained without the removed expert's data.",
  approximate:
    "Opt-out is approximate: router tuning updated every router row (r_pub included) on proxy data that each owner's classifier selected, so removing an expert leaves that indirect influence in place.",
};
