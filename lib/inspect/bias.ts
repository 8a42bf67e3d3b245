/**
 * The negative expert bias (docs/method.md §2.4): during owner training, expert i wins over the public expert
 * when r_i·h + b_i > r_pub·h, with b_i = min(β_i, 0). A more negative bias moves that decision
 * boundary towards the owner's own data, so fewer tokens go to the owner.
 *
 * Whether the bias applies at inference is an open question (FlexOlmo issue #32): the paper
 * describes it, the training code learns it, the merge script does not copy it, and the released
 * Hugging Face model has none. This view measures its effect on routing: the learned bias kept vs
 * dropped, and a sweep where every owner gets the same fixed β.
 */
import * as tf from "../tf";
import { formatNumber, type PlotlyFigure } from "../display/plotly";
import { assignFields, ResultRecord, textOf, type HtmlPart } from "../display/record";
import type { TableSpec } from "../display/views";
import { FlexModel } from "../flex/model";
import { biasSweepChart } from "./charts";
import { dataOf, sampleRouting, type RoutingSample, type SampleOptions } from "./collect";
import { note } from "./html";
import { WINDOW_KEYS } from "../flex/evaluate";
import { checkOptionKeys } from "../util/options";

export interface BiasSetting {
  /** "drop" (HF release), "keep" (the learned b, paper), or "β=-1" (the same fixed β for every owner). */
  label: string;
  beta: number | null;
  /** [domain] fraction of tokens whose top-1 expert is the public one, mean over layers. */
  publicTop1: number[];
  /** [domain] the same for the domain's own expert (null when it has none in the view). */
  ownTop1: (number | null)[];
}

export class BiasEffect extends ResultRecord {
  readonly model!: string;
  readonly experts!: string[];
  readonly domains!: string[];
  readonly k!: number;
  /** Per owner in the view: its learned b = min(β, 0), mean over layers. */
  readonly learned!: { expert: string; bias: number }[];
  readonly settings!: BiasSetting[];

  constructor(init: { model: string; experts: string[]; domains: string[]; k: number; learned: { expert: string; bias: number }[]; settings: BiasSetting[] }) {
    super();
    assignFields(this, init, ["model", "experts", "domains", "k", "learned", "settings"]);
  }

  /** The swept settings (fixed β), in order. */
  get sweep(): BiasSetting[] {
    return this.settings.filter((s) => s.beta !== null);
  }

  setting(label: string): BiasSetting {
    const s = this.settings.find((x) => x.label === label);
    if (!s) throw new Error(`No bias setting "${label}" (settings: ${this.settings.map((x) => x.label).join(", ")}).`);
    return s;
  }

  override chart() {
    const sw = this.sweep;
    return biasSweepChart({
      betas: sw.map((s) => s.beta as number),
      domains: this.domains,
      publicTop1: this.domains.map((_, d) => sw.map((s) => s.publicTop1[d])),
      experts: this.experts.length,
    });
  }

  private table(): TableSpec {
    const rows = this.settings.flatMap((s) => this.domains.map((d, i) => [s.label, d, s.publicTop1[i], s.ownTop1[i]]));
    return { columns: ["bias", "domain", "top-1 = public", "top-1 = own expert"], rows, digits: 3 };
  }

  /** The learned b per owner, as one phrase ("none" without owners). */
  private learnedText(): string {
    return this.learned.map((l) => `${l.expert} ${formatNumber(l.bias, 3)}`).join(", ") || "none";
  }

  toString(): string {
    return textOf(`expert bias and routing in ${this.model} (top-${this.k}; learned b per owner, mean over layers: ${this.learnedText()})`, this.table());
  }

  protected override html(fig: PlotlyFigure): HtmlPart[] {
    return [
      fig,
      this.table(),
      note(
        `Learned bias per owner (mean over layers): ${this.learnedText()}. ` +
          "\"keep\" adds it at inference as the paper describes; \"drop\" routes like the released model (FlexOlmo issue #32: whether the paper's numbers used the bias at inference is unresolved).",
      ),
    ];
  }
}

/** Per domain: how often the public expert, and the domain's own expert, is a token's top-1 (mean over layers). */
function top1Shares(sample: RoutingSample): { publicTop1: number[]; ownTop1: (number | null)[] } {
  const publicTop1: number[] = [];
  const ownTop1: (number | null)[] = [];
  for (const d of sample.domains) {
    const mean = (e: number) => d.top1.reduce((s, layer) => s + layer[e] / d.tokens, 0) / sample.layers;
    publicTop1.push(mean(0));
    const own = sample.experts.indexOf(d.domain);
    ownTop1.push(own > 0 && sample.include[own] ? mean(own) : null);
  }
  return { publicTop1, ownTop1 };
}

/**
 * Route evaluation windows under: the learned bias dropped, kept, and each fixed β in `betas`
 * (applied to every owner in every layer). Exact forward passes, not an approximation: a bias in an
 * early layer changes the hidden states every later layer routes.
 */
export async function biasEffect(model: FlexModel, opts: SampleOptions & { betas?: number[] } = {}): Promise<BiasEffect> {
  const E = model.config.experts.length;
  if (E < 2 || model.experts.length < 2) throw new Error("biasEffect: the view needs the public expert and at least one owner.");
  if (!model.view.include[0]) throw new Error('biasEffect: the view excludes the public expert; the bias decides "owner vs public", so keep it.');
  checkOptionKeys(opts, [...WINDOW_KEYS, "betas"], "biasEffect");
  const { betas: given, ...windowOpts } = opts;
  const betas = given ?? [0, -0.5, -1, -2, -4];
  for (const b of betas) if (!Number.isFinite(b) || b > 0) throw new Error(`biasEffect: β = ${b}; use finite values ≤ 0 (b = min(β, 0) clamps anything above 0 to 0).`);
  const sampleOpts: SampleOptions = { maxWindows: 4, ...windowOpts };
  const settings: BiasSetting[] = [];
  let domains: string[] = [];
  for (const mode of ["drop", "keep"] as const) {
    const s = await sampleRouting(model.withBias(mode), sampleOpts);
    domains = s.domains.map((d) => d.domain);
    settings.push({ label: mode === "keep" ? "keep (learned)" : "drop", beta: null, ...top1Shares(s) });
  }
  const data = await dataOf(model);
  for (const beta of betas) {
    const biases = model.params.layers.map(() => tf.tensor1d(Array.from({ length: E }, (_, j) => (j === 0 ? 0 : beta)))); // [E]
    try {
      const variant = new FlexModel({
        config: model.config,
        params: { ...model.params, layers: model.params.layers.map((l, i) => ({ ...l, expertBias: biases[i] })) },
        provenance: model.provenance,
        view: { ...model.view, bias: "keep" },
        label: `${model.label} β=${beta}`,
        data,
      });
      const s = await sampleRouting(variant, sampleOpts);
      settings.push({ label: `β=${beta}`, beta, ...top1Shares(s) });
    } finally {
      biases.forEach((b) => b.dispose());
    }
  }
  const learned: { expert: string; bias: number }[] = [];
  for (let j = 1; j < E; j++) {
    if (!model.view.include[j]) continue;
    let s = 0;
    for (const l of model.params.layers) s += Math.min(((await l.expertBias.array()) as number[])[j], 0);
    learned.push({ expert: model.allExperts[j], bias: s / model.params.layers.length });
  }
  return new BiasEffect({ model: model.label, experts: model.experts, domains, k: model.view.topK, learned, settings });
}
