/**
 * Router-row geometry: how the router rows r_pub, r_1, … r_n sit relative to each other, per layer.
 *
 * A token goes to expert j when r_j·h (+ b_j) beats the other rows. If two rows point the same way,
 * the router cannot tell their experts apart and one of them is starved. mergekit checks this before
 * building an MoE (`warn_degenerate_gates`): the condition number of the unit-normalised gate matrix,
 * warning above 5. The FlexOlmo paper's random-init ablation is exactly this failure: without domain
 * embeddings, the learned rows end up very similar and merging suffers (docs/method.md §2.2).
 */
import { formatNumber, type PlotlyFigure } from "../display/plotly";
import { assignFields, ResultRecord, textOf, type HtmlPart } from "../display/record";
import type { TableSpec } from "../display/views";
import type { FlexModel } from "../flex/model";
import { conditionNumber, cosineMatrix, DEGENERATE_CONDITION, normaliseRows } from "./aggregate";
import { geometryChart } from "./charts";
import { pickLayers } from "./collect";
import { note } from "./html";
import type { LayerSpec } from "./routing";

export interface LayerGeometry {
  layer: number;
  /** [E'][E'] cosine between the rows of the experts in the view. */
  cosine: (number | null)[][];
  /** ‖r_j‖ per expert in the view. */
  norms: number[];
  /** Condition number of the unit-normalised rows (mergekit's check). */
  condition: number;
  /** Condition number of the raw rows (norm differences count too). */
  rawCondition: number;
  /** b_j = min(β_j, 0) per expert in the view (public: 0). */
  bias: number[];
  /** Largest cosine between two different rows, and which. */
  maxCosine: { value: number; pair: [string, string] } | null;
}

export class RouterGeometry extends ResultRecord {
  readonly model!: string;
  /** Experts in the view, in router-row order. */
  readonly experts!: string[];
  readonly layers!: LayerGeometry[];
  readonly threshold!: number;

  constructor(init: { model: string; experts: string[]; layers: LayerGeometry[]; threshold: number }) {
    super();
    assignFields(this, init, ["model", "experts", "layers", "threshold"]);
  }

  /** Layers whose normalised condition number exceeds the threshold. */
  get degenerate(): number[] {
    return this.layers.filter((l) => l.condition > this.threshold).map((l) => l.layer);
  }

  /** mergekit-style warning text, or "" when every layer is fine. */
  get warning(): string {
    const d = this.degenerate;
    if (d.length === 0) return "";
    const worst = this.layers.filter((l) => d.includes(l.layer)).sort((a, b) => b.condition - a.condition)[0];
    const pair = worst.maxCosine ? ` (e.g. layer ${worst.layer}: ${worst.maxCosine.pair.join(" and ")}, cos ${worst.maxCosine.value.toFixed(3)})` : "";
    const which = d.length === this.layers.length ? "ALL layers have" : `layer${d.length > 1 ? "s" : ""} ${d.join(", ")} ${d.length > 1 ? "have" : "has"}`;
    return `${which} degenerate router rows (condition number > ${this.threshold})${pair}: some experts' rows point almost the same way, so one of them will be under-used.`;
  }

  override chart() {
    return geometryChart({ experts: this.experts, layers: this.layers.map((l) => l.layer), cosine: this.layers.map((l) => l.cosine) });
  }

  private table(): TableSpec {
    const rows = this.layers.map((l) => [l.layer, l.condition, l.rawCondition, l.maxCosine ? l.maxCosine.value : NaN, l.maxCosine ? l.maxCosine.pair.join("–") : "–", l.norms.map((n) => formatNumber(n, 3)).join(" / "), l.bias.map((b) => formatNumber(b, 3)).join(" / ")]);
    return { columns: ["layer", "cond (unit rows)", "cond (raw)", "max cos", "pair", `‖r‖ (${this.experts.join(" / ")})`, "bias b"], rows, digits: 3 };
  }

  toString(): string {
    return textOf(`router geometry of ${this.model}`, this.table(), this.warning ? `WARNING: ${this.warning}` : `no degenerate layer (every condition number ≤ ${this.threshold})`);
  }

  override toJSON(): object {
    return this.pick("model", "experts", "threshold", "layers", "degenerate");
  }

  protected override html(fig: PlotlyFigure): HtmlPart[] {
    return [
      this.warning ? note(`⚠ ${this.warning}`, "warn") : note(`No degenerate layer: every condition number of the unit-normalised router rows is ≤ ${this.threshold} (mergekit's threshold).`),
      fig,
      this.table(),
    ];
  }
}

/**
 * Cosines, norms, condition numbers and biases of the router rows of the experts in the view, per
 * layer (default: all). `threshold` defaults to mergekit's 5.
 */
export async function routerGeometry(model: FlexModel, opts: { layers?: LayerSpec; threshold?: number } = {}): Promise<RouterGeometry> {
  model.assertLive("routerGeometry");
  const layers = pickLayers(model.config.nLayers, opts.layers ?? "all");
  const inc = model.allExperts.map((_, i) => i).filter((i) => model.view.include[i]);
  const names = inc.map((i) => model.allExperts[i]);
  const threshold = opts.threshold ?? DEGENERATE_CONDITION;
  const out: LayerGeometry[] = [];
  for (const l of layers) {
    const p = model.params.layers[l];
    const all = (await p.router.array()) as number[][]; // [E, C]
    const biasAll = (await p.expertBias.array()) as number[]; // [E]
    const rows = inc.map((i) => all[i]);
    const cosine = cosineMatrix(rows);
    let maxCosine: LayerGeometry["maxCosine"] = null;
    for (let i = 0; i < rows.length; i++) {
      for (let j = i + 1; j < rows.length; j++) {
        const c = cosine[i][j];
        if (c !== null && (maxCosine === null || c > maxCosine.value)) maxCosine = { value: c, pair: [names[i], names[j]] };
      }
    }
    out.push({
      layer: l,
      cosine,
      norms: rows.map((r) => Math.sqrt(r.reduce((s, x) => s + x * x, 0))),
      condition: rows.length > 1 ? conditionNumber(normaliseRows(rows)) : 1,
      rawCondition: rows.length > 1 ? conditionNumber(rows) : 1,
      bias: inc.map((i) => (i === 0 ? 0 : Math.min(biasAll[i], 0))),
      maxCosine,
    });
  }
  return new RouterGeometry({ model: model.label, experts: names, layers: out, threshold });
}
