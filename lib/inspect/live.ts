/**
 * Live training views: ONE notebook output, updated in place while a model trains.
 *
 *   const view = liveTraining("math owner", { totalSteps: 100, experts: ["public", "math"] });
 *   const rec = await math.train({ steps: 100, onProgress: view.onProgress });
 *   view.done(rec);
 *
 * The output shows a progress bar with an ETA, the loss curve (plus per-domain evaluation losses if
 * you add them with `view.evaluation(step, result)`), the learning rate and tokens/s, and how the
 * router splits tokens between experts as training goes (router saturation, watched live). It is
 * refreshed at most once a second (lib/display LiveDisplay), and its last state stays in the saved
 * notebook.
 *
 * The output is HTML (inline SVG charts + a progress bar) and text/plain, without a plotly payload:
 * a front end with a plotly renderer would show only one chart and drop the progress bar. The
 * record `train()` returns renders the loss curve as an interactive plotly chart.
 */
import { inspect } from "node:util";
import { bundleOf, DISPLAY, type MimeBundle } from "../display/mime";
import { LiveDisplay, type LiveDisplayOptions } from "../display/live";
import { formatNumber } from "../display/plotly";
import { escapeXml } from "../display/svg";
import type { EvalResult } from "../flex/results";
import type { TrainRecord } from "../flex/records";
import type { StepProgress } from "../train/trainer";
import { layerColor, trainingLossChart, trainingRoutingChart } from "./charts";
import { figureHtml, note, sideBySide } from "./html";

/** Points per line in the live charts (a 2 000-step run is drawn from every 10th step). */
const MAX_POINTS = 200;

export interface LiveTrainingOptions {
  /** Steps this training call will run (for the progress bar and the ETA). */
  totalSteps: number;
  /** Expert names in router-row order (default: "public", "expert 1", …). */
  experts?: readonly string[];
  /** Refresh settings and test hooks (lib/display LiveDisplay); default ≤ 1 refresh per second in a kernel. */
  display?: LiveDisplayOptions;
}

/** What the view has seen so far (plain data; also what its text and charts are drawn from). */
export interface LiveTrainingState {
  title: string;
  totalSteps: number;
  /** Global step numbers (the trainer's count) of the steps seen. */
  steps: number[];
  loss: number[];
  lr: number[];
  tokensPerSec: number[];
  /** Tokens and wall-clock seconds of each step. */
  tokens: number[];
  seconds: number[];
  /** Per step, [layer][expert] share of top-k slots (empty when the event had no routing). */
  share: number[][][];
  /** Per step, [layer][expert] mean router probability. */
  meanProb: number[][][];
  evals: { domain: string; steps: number[]; loss: number[] }[];
  finished: null | { aborted: boolean; summary: string };
}

export class LiveTraining {
  readonly state: LiveTrainingState;
  private readonly experts?: readonly string[];
  private readonly live: LiveDisplay;

  constructor(title: string, opts: LiveTrainingOptions) {
    if (!opts || !Number.isInteger(opts.totalSteps) || opts.totalSteps < 1) {
      throw new Error(`liveTraining("${title}"): pass { totalSteps: N } with N ≥ 1, the steps of the training call it watches.`);
    }
    this.experts = opts.experts;
    this.state = { title, totalSteps: opts.totalSteps, steps: [], loss: [], lr: [], tokensPerSec: [], tokens: [], seconds: [], share: [], meanProb: [], evals: [], finished: null };
    // 1 refresh per second (LiveDisplay's default is 4): a training cell runs for minutes, and every
    // refresh sends the whole view (~10 kB) through the kernel; fewer, smaller messages keep the
    // notebook's message stream light (tslab 1.0.22's iopub socket does not queue its sends).
    this.live = new LiveDisplay({ minIntervalMs: 1000, ...opts.display });
  }

  /** Pass this as `onProgress` to `train()`. Cheap: the display is rebuilt only when it refreshes. */
  readonly onProgress = (p: StepProgress): void => {
    const s = this.state;
    s.steps.push(p.step);
    s.loss.push(p.loss);
    s.lr.push(p.lr);
    s.tokensPerSec.push(p.tokensPerSec);
    s.tokens.push(p.tokens);
    s.seconds.push(p.seconds);
    s.share.push(p.routing?.share.map((r) => [...r]) ?? []);
    s.meanProb.push(p.routing?.meanProb.map((r) => [...r]) ?? []);
    this.live.update(() => this);
  };

  /** Add evaluation losses (e.g. from `await model.evaluate()` between training calls) at `step`. */
  evaluation(step: number, result: EvalResult): void {
    for (const r of result.rows) {
      let e = this.state.evals.find((x) => x.domain === r.domain);
      if (!e) this.state.evals.push((e = { domain: r.domain, steps: [], loss: [] }));
      e.steps.push(step);
      e.loss.push(r.loss);
    }
    this.live.update(() => this);
  }

  /**
   * Show the final state (with the record's summary, if given) and stop refreshing. Returns nothing,
   * so `view.done(rec)` as a cell's last line does not print the record a second time.
   */
  done(record?: TrainRecord): void {
    const s = this.state;
    const aborted = record ? record.aborted : s.steps.length < s.totalSteps;
    s.finished = { aborted, summary: record ? record.toString() : this.summary() };
    this.live.done(() => this);
  }

  /** What the view saw, as one line (used by `done()` without a record, e.g. after several train calls). */
  summary(): string {
    const s = this.state;
    const n = s.steps.length;
    if (n === 0) return `${s.title}: no steps`;
    const tokens = s.tokens.reduce((a, b) => a + b, 0), secs = s.seconds.reduce((a, b) => a + b, 0);
    return (
      `${s.title}: ${n} steps (to step ${s.steps[n - 1]}), loss ${s.loss[0].toFixed(3)} → ${s.loss[n - 1].toFixed(3)}, ` +
      `${tokens.toLocaleString("en-US")} tokens in ${secs.toFixed(1)} s of step time`
    );
  }

  /** Expert name of router row j. */
  expertName(j: number): string {
    return this.experts?.[j] ?? (j === 0 ? "public" : `expert ${j}`);
  }

  /** Steps done in this call. */
  get stepsDone(): number {
    return this.state.steps.length;
  }

  /** Seconds left at the mean step time so far (NaN before the first step). */
  get eta(): number {
    const s = this.state;
    if (s.seconds.length === 0) return NaN;
    const mean = s.seconds.reduce((a, b) => a + b, 0) / s.seconds.length;
    return Math.max(0, s.totalSteps - s.steps.length) * mean;
  }

  /**
   * The routing series to plot. With 2 experts (owner training, top-2 of 2: every token uses both
   * experts, so slot shares are always 50/50) the informative number is the owner's mean router
   * probability, per layer. With more experts and k < E: each expert's slot share in the last layer.
   */
  routingSeries(): { yTitle: string; series: { name: string; values: number[]; expert: number }[]; ref?: { value: number; label: string } } | null {
    const s = this.state;
    const first = s.share.find((x) => x.length > 0);
    if (!first || first[0].length < 2) return null;
    const E = first[0].length, L = first.length;
    const pick = (arr: number[][][], l: number, j: number) => arr.map((x) => (x.length ? x[l][j] : NaN));
    const soft = s.share.every((x) => x.length === 0 || x.every((row) => row.every((v) => Math.abs(v - 1 / E) < 1e-9)));
    if (E === 2 && soft) {
      return {
        yTitle: `mean router probability of ${this.expertName(1)}`,
        // One line per layer, coloured by depth (dark = first layer), so four layers stay distinguishable.
        series: Array.from({ length: L }, (_, l) => ({ name: `L${l} p(${this.expertName(1)})`, values: pick(s.meanProb, l, 1), expert: 1, color: layerColor(l, L) })),
        ref: { value: 0.5, label: "public = owner" },
      };
    }
    const arr = soft ? s.meanProb : s.share;
    return {
      yTitle: soft ? `mean router probability (layer ${L - 1})` : `share of top-k slots (layer ${L - 1})`,
      series: Array.from({ length: E }, (_, j) => ({ name: this.expertName(j), values: pick(arr, L - 1, j), expert: j })),
      ref: { value: 1 / E, label: `uniform 1/${E}` },
    };
  }

  /** One line: what a log (or a terminal) shows. */
  toString(): string {
    const s = this.state;
    const n = s.steps.length;
    if (s.finished) return `${s.finished.summary}${s.finished.aborted ? " (stopped early)" : ""}`;
    if (n === 0) return `${s.title}: waiting for the first step of ${s.totalSteps}…`;
    const rs = this.routingSeries();
    const routing = rs ? ` · ${rs.series.map((x) => `${x.name} ${formatNumber(x.values[n - 1], 3)}`).join(" ")}` : "";
    return `${s.title}: step ${n}/${s.totalSteps} (${Math.round((100 * n) / s.totalSteps)}%) · loss ${s.loss[n - 1].toFixed(3)} · lr ${formatNumber(s.lr[n - 1], 3)} · ${Math.round(s.tokensPerSec[n - 1]).toLocaleString("en-US")} tok/s · ETA ${formatDuration(this.eta)}${routing}`;
  }

  /** What the Node REPL and console.log print: this summary, not a dump of every field. */
  [inspect.custom](): string {
    return this.toString();
  }

  private progressBar(): string {
    const s = this.state;
    const frac = Math.min(1, s.steps.length / s.totalSteps);
    const color = s.finished ? (s.finished.aborted ? "#f28e2b" : "#59a14f") : "#4e79a7";
    const label = s.finished
      ? `${s.finished.aborted ? "stopped early" : "done"}: ${s.steps.length}/${s.totalSteps} steps`
      : `${s.steps.length}/${s.totalSteps} steps · ETA ${formatDuration(this.eta)}`;
    return (
      `<div style="display:flex;align-items:center;gap:10px;font-family:system-ui,sans-serif;font-size:13px">` +
      `<div style="width:320px;height:12px;background:#e6e6e6;border-radius:6px;overflow:hidden">` +
      `<div style="width:${(100 * frac).toFixed(1)}%;height:12px;background:${color}"></div></div>` +
      `<span>${escapeXml(label)}</span></div>`
    );
  }

  private statsLine(): string {
    const s = this.state;
    const n = s.steps.length;
    if (n === 0) return note("waiting for the first step…");
    const total = s.seconds.reduce((a, b) => a + b, 0);
    return note(
      `step ${s.steps[n - 1]} · loss ${s.loss[n - 1].toFixed(3)} (first ${s.loss[0].toFixed(3)}) · lr ${formatNumber(s.lr[n - 1], 3)} · ` +
        `${Math.round(s.tokensPerSec[n - 1]).toLocaleString("en-US")} tok/s · ${formatDuration(total)} of step time`,
    );
  }

  charts() {
    const s = this.state;
    // At most ~MAX_POINTS points per line: a long run still draws its shape, and the output stays small.
    const every = Math.max(1, Math.ceil(s.steps.length / MAX_POINTS));
    const keep = <T>(xs: readonly T[]) => xs.filter((_, i) => i % every === 0 || i === xs.length - 1);
    const loss = trainingLossChart({ title: `${s.title}: loss`, steps: keep(s.steps), loss: keep(s.loss), evals: s.evals });
    const rs = this.routingSeries();
    const routing = rs
      ? trainingRoutingChart({ title: `${s.title}: routing`, steps: keep(s.steps), series: rs.series.map((x) => ({ ...x, values: keep(x.values) })), yTitle: rs.yTitle, ref: rs.ref })
      : null;
    return { loss, routing };
  }

  [DISPLAY](): MimeBundle {
    const s = this.state;
    return bundleOf({
      text: this.toString(),
      html: () => {
        const head = `<div style="font-family:system-ui,sans-serif;font-weight:600;margin-bottom:4px">${escapeXml(s.title)}</div>`;
        if (s.steps.length === 0) return head + this.progressBar() + this.statsLine();
        const c = this.charts();
        return head + this.progressBar() + this.statsLine() + sideBySide([figureHtml(c.loss), ...(c.routing ? [figureHtml(c.routing)] : [])]);
      },
    });
  }
}

/** A live view for one training call; pass `view.onProgress` to `train()` and call `view.done(record)` after. */
export function liveTraining(title: string, opts: LiveTrainingOptions): LiveTraining {
  return new LiveTraining(title, opts);
}

/** "42s", "3m05s", "1h02m"; "–" when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

