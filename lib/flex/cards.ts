/**
 * Data governance: every expert carries a data card, and every model knows whether opting out of
 * an expert is exact (spec §5: structurally exact without router tuning, approximate after it).
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
  /** How its router row was initialised (spec §2.2). */
  embedding?: { embedder: string; documents: number; sha256: string };
  /** The training settings that produced it (steps, lr, batch, β init, …). */
  training: Record<string, unknown>;
  seed: number;
  createdAt: string;
  updatedAt: string;
}

/** Where a model came from, and what that means for opt-out. */
export interface Provenance {
  /** "public" (dense), "owner" (a 2-expert owner model), "merged", or "router-tuned". */
  kind: "public" | "owner" | "merged" | "router-tuned";
  /** true once any router tuning ran: opt-out is then approximate (spec §5). */
  routerTuned: boolean;
  /** Proxy domains the router was tuned on (their selection used each owner's classifier). */
  tunedOn?: string[];
  /** The public model's trunk fingerprint (sha256 over all trunk tensor hashes). */
  trunk?: string;
}

export type OptOutGuarantee = "exact" | "approximate";

/** Exact without router tuning; approximate after it (every row, r_pub included, saw proxies chosen with D_i). */
export function optOutGuarantee(p: Provenance): OptOutGuarantee {
  return p.routerTuned ? "approximate" : "exact";
}

export const OPT_OUT_NOTE: Record<OptOutGuarantee, string> = {
  exact:
    "Opt-out is exact: every remaining parameter (trunk, other experts, other router rows) was trained without the removed expert's data.",
  approximate:
    "Opt-out is approximate: router tuning updated every router row (r_pub included) on proxy data that each owner's classifier selected, so removing an expert leaves that indirect influence in place.",
};
