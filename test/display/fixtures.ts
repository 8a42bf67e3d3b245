/**
 * Chart fixtures shared by the snapshot tests and the plotly.js rendering test, and the fake kernel
 * bridge and clock of the live-display tests (test/display, test/inspect).
 */
import { barChart, heatmap, lineChart, scatterChart, stackedBarH } from "../../lib/display";
import type { Chart, KernelBridge, MimeBundle } from "../../lib/display";

/** One small, fixed input per builder (and per option that changes the figure's structure). */
export const CHARTS: Record<string, () => Chart> = {
  "line-two-series": () =>
    lineChart({
      title: "Training loss",
      x: [0, 10, 20, 30, 40],
      series: [
        { name: "train", y: [4.2, 3.1, 2.6, 2.31, 2.2] },
        { name: "val", y: [4.3, 3.4, null, 2.5, 2.4], dash: "dash" }, // the null splits the line in two
      ],
      xTitle: "step",
      yTitle: "loss",
      refLines: [{ value: 2.4, label: "public model" }],
    }),
  "line-log-y": () => lineChart({ title: "Loss (log)", series: [{ name: "loss", y: [10, 3, 1, 0.3, 0.1] }], logY: true }),
  scatter: () => scatterChart({ title: "Δloss vs share", series: [{ name: "experts", x: [0.1, 0.25, 0.4], y: [0.02, 0.3, 0.61] }], xTitle: "share", yTitle: "Δloss" }),
  "bar-grouped": () =>
    barChart({
      title: "Domain loss",
      categories: ["math", "code", "news"],
      series: [
        { name: "public", values: [3.1, 2.9, 3.3] },
        { name: "merged", values: [2.4, 2.2, 2.8] },
      ],
      valueTitle: "loss",
    }),
  "bar-stacked-horizontal": () =>
    stackedBarH({
      title: "Expert share per layer",
      categories: ["layer 0", "layer 1"],
      series: [
        { name: "public", values: [0.5, 0.25] },
        { name: "math", values: [0.3, 0.5] },
        { name: "code", values: [0.2, 0.25] },
      ],
      valueTitle: "share of tokens",
      refLines: [{ value: 1 / 3, label: "uniform" }],
    }),
  "heatmap-viridis": () =>
    heatmap({ title: "Router weights", x: ["public", "math"], y: ["tok 0", "tok 1", "tok 2"], z: [[0.9, 0.1], [0.4, 0.6], [0.5, 0.5]], colorbarTitle: "p" }),
  "heatmap-rdbu-nulls": () =>
    heatmap({ title: "Opt-out Δloss", x: ["math", "code"], y: ["without math", "without code"], z: [[0.8, -0.02], [null, 0.6]], colorscale: "rdbu" }),
};

/** A fake kernel bridge that records what would be sent to the notebook. */
export function recorder(): KernelBridge & { sent: { bundle: MimeBundle; displayId?: string; update?: boolean }[] } {
  const sent: { bundle: MimeBundle; displayId?: string; update?: boolean }[] = [];
  return { name: "test", sent, display: (bundle, opts = {}) => void sent.push({ bundle, ...opts }) };
}

/**
 * A manual clock and timer queue, so rate limiting is tested without sleeping. Timers are re-sorted
 * after each one fires, since a timer may set another.
 */
export function fakeTime() {
  let now = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  let next = 1;
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => {
      const id = next++;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimer: (h: unknown) => {
      const i = timers.findIndex((t) => t.id === h);
      if (i >= 0) timers.splice(i, 1);
    },
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const t = timers[0];
        if (!t || t.at > end) break;
        timers.shift();
        now = t.at;
        t.fn();
      }
      now = end;
    },
  };
}
