/**
 * Reopen a model written by `FlexModel.save` (any baseline that is one FlexModel, and each member of
 * a saved ensemble) with its data cards, provenance, view and label.
 */
import { archDiffs, type ModelConfig, type PresetName } from "../../model/config";
import { disposeCheckpoint, loadCheckpoint } from "../../io/checkpoint";
import type { DataCard, Provenance } from "../cards";
import type { DataContext } from "../context";
import { FlexModel } from "../model";
import type { ViewSpec } from "../view";

export async function loadFlexModel(dir: string, lab?: { data: DataContext; modelConfig: ModelConfig; preset: PresetName }, label?: string): Promise<FlexModel> {
  const ck = await loadCheckpoint(dir);
  try {
    if (lab) {
      const diffs = archDiffs(ck.config, lab.modelConfig);
      if (diffs.length) throw new Error(`${dir} does not match the lab's "${lab.preset}" architecture (checkpoint vs lab: ${diffs.join(", ")}).`);
    }
    const cards: Record<string, DataCard> = {};
    ck.config.experts.forEach((e, i) => {
      const c = ck.sidecar.dataCards[i];
      if (c && typeof c === "object") cards[e] = c as DataCard;
    });
    const prov = (ck.sidecar.provenance ?? {}) as Partial<Provenance> & { label?: string };
    const { label: savedLabel, ...rest } = prov;
    if (rest.optOut !== undefined && rest.optOut !== "exact" && rest.optOut !== "approximate") {
      throw new Error(`${dir}: flexolmo.json has an unknown opt-out guarantee ${JSON.stringify(rest.optOut)} (expected "exact" or "approximate").`);
    }
    const provenance: Provenance = { ...rest, kind: rest.kind ?? "merged", routerTuned: rest.routerTuned ?? false };
    const view = (ck.sidecar.metadata?.view ?? undefined) as Partial<ViewSpec> | undefined;
    return new FlexModel({ config: ck.config, params: ck.params, cards, provenance, view, label: label ?? savedLabel, data: lab?.data, owns: true });
  } catch (e) {
    disposeCheckpoint(ck);
    throw e;
  } finally {
    if (ck.optimizer) Object.values(ck.optimizer.tensors).forEach((t) => t.dispose());
  }
}
