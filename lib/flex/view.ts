/**
 * Opt-in / opt-out as views (docs/method.md §5): which experts take part, how many each token uses, and
 * whether the expert bias applies. A view never edits weights: the mask is an argument of the
 * forward pass, so `without("news")` and a model merged without news share every number.
 */

export type BiasMode = "keep" | "drop";

export interface ViewSpec {
  /** One flag per expert of the full model, in router-row order. */
  include: readonly boolean[];
  /** Active experts per token (num_experts_per_tok) under this view. */
  topK: number;
  /** Paper-faithful "keep" adds min(β, 0) to owner logits; release-faithful "drop" ignores it (docs/method.md §2.4). */
  bias: BiasMode;
}

/** Resolve expert references (names or indices) to indices, with errors that list the valid names. */
export function resolveExperts(experts: readonly string[], refs: ReadonlyArray<string | number>, verb: string): number[] {
  return refs.map((ref) => {
    const idx = typeof ref === "number" ? ref : experts.indexOf(ref);
    if (!Number.isInteger(idx) || idx < 0 || idx >= experts.length) {
      throw new Error(`${verb}: unknown expert ${JSON.stringify(ref)}. This model's experts are: ${experts.map((n, i) => `${i}:${n}`).join(", ")}.`);
    }
    return idx;
  });
}

/** Checks that a view can run: at least one expert included, and k within the included count. */
export function checkView(experts: readonly string[], view: ViewSpec): void {
  if (view.include.length !== experts.length) throw new Error(`View mask has ${view.include.length} entries but the model has ${experts.length} experts.`);
  const n = view.include.filter(Boolean).length;
  if (n === 0) throw new Error("This view excludes every expert; a FlexOlmo layer needs at least one (keep \"public\" to fall back to the public model).");
  if (!Number.isInteger(view.topK) || view.topK < 1) throw new Error(`top-k must be a positive integer (got ${view.topK}).`);
  if (view.topK > n) {
    throw new Error(
      `top-k ${view.topK} is larger than the ${n} included expert(s) (${includedNames(experts, view).join(", ")}). ` +
        `Use withTopK(${n}) or include more experts.`,
    );
  }
  if (view.bias !== "keep" && view.bias !== "drop") throw new Error(`bias mode must be "keep" or "drop" (got ${JSON.stringify(view.bias)}).`);
}

export function includedNames(experts: readonly string[], view: ViewSpec): string[] {
  return experts.filter((_, i) => view.include[i]);
}

/**
 * The view without some experts. If k exceeds the experts left, k shrinks to that number: a model
 * merged without those experts could not route to more either (e.g. router-tuned models run k = E).
 */
export function viewWithout(experts: readonly string[], view: ViewSpec, refs: ReadonlyArray<string | number>): ViewSpec {
  // without() with nothing named would be the same view under a new label: surely a mistake.
  if (refs.length === 0) throw new Error(`without() needs at least one expert to opt out, by name or index (this model's experts: ${experts.join(", ")}).`);
  const drop = new Set(resolveExperts(experts, refs, "without"));
  const include = view.include.map((on, i) => on && !drop.has(i));
  const left = include.filter(Boolean).length;
  const next = { ...view, include, topK: Math.min(view.topK, Math.max(left, 1)) };
  checkView(experts, next);
  return next;
}

/** The view with exactly these experts. */
export function viewOnly(experts: readonly string[], view: ViewSpec, refs: ReadonlyArray<string | number>): ViewSpec {
  if (refs.length === 0) throw new Error("only([]) would exclude every expert; name at least one (e.g. only([\"public\"])).");
  const keep = new Set(resolveExperts(experts, refs, "only"));
  const include = experts.map((_, i) => keep.has(i));
  const next = { ...view, include, topK: Math.min(view.topK, keep.size) };
  checkView(experts, next);
  return next;
}
