/**
 * Records of the pipeline's verbs that are not evaluations: a training call and an invariant check.
 * Plain fields, a text summary, and a notebook rendering.
 */
import { lineChart } from "../display/charts";
import { assignFields, ResultRecord, textOf, type HtmlPart } from "../display/record";
import type { TableSpec } from "../display/views";

export interface TrainRecordInit {
  what: string;
  /** Steps done in this call, and the total so far. */
  steps: number;
  step: number;
  losses: number[];
  lrs: number[];
  tokens: number;
  seconds: number;
  tokensPerSec: number;
  aborted: boolean;
  /** Every loss since the first call (for the curve). */
  history: number[];
  /** Per step of this call, the last layer's share of top-k slots per expert. */
  lastLayerShare: number[][];
}

/** What one `train({ steps })` call did. */
export class TrainRecord extends ResultRecord {
  readonly what!: string;
  readonly steps!: number;
  readonly step!: number;
  readonly losses!: number[];
  readonly lrs!: number[];
  readonly tokens!: number;
  readonly seconds!: number;
  readonly tokensPerSec!: number;
  readonly aborted!: boolean;
  readonly history!: number[];
  readonly lastLayerShare!: number[][];

  constructor(init: TrainRecordInit) {
    super();
    assignFields(this, init, ["what", "steps", "step", "losses", "lrs", "tokens", "seconds", "tokensPerSec", "aborted", "history", "lastLayerShare"]);
  }

  /** A record from the trainer's result for one `steps()` call. */
  static fromSteps(
    what: string,
    res: { steps: number; step: number; losses: number[]; lrs: number[]; tokens: number; seconds: number; tokensPerSec: number; aborted: boolean },
    history: number[] = res.losses,
    lastLayerShare: number[][] = [],
  ): TrainRecord {
    const { steps, step, losses, lrs, tokens, seconds, tokensPerSec, aborted } = res;
    return new TrainRecord({ what, steps, step, losses, lrs, tokens, seconds, tokensPerSec, aborted, history, lastLayerShare });
  }

  /** Mean loss over the last `n` steps of this call (a less noisy "final loss"). */
  finalLoss(n = 10): number {
    const tail = this.losses.slice(-n);
    return tail.length ? tail.reduce((s, x) => s + x, 0) / tail.length : NaN;
  }

  toString(): string {
    const first = this.losses[0], last = this.finalLoss();
    return (
      `${this.what}: ${this.steps} steps (total ${this.step})${this.aborted ? " — stopped early" : ""}, ` +
      `loss ${Number.isFinite(first) ? first.toFixed(3) : "–"} → ${Number.isFinite(last) ? last.toFixed(3) : "–"}, ` +
      `${this.tokens.toLocaleString("en-US")} tokens in ${this.seconds.toFixed(1)} s (${Math.round(this.tokensPerSec).toLocaleString("en-US")} tok/s)`
    );
  }

  /** Every loss since the first call, against the global step. */
  override chart() {
    const start = this.step - this.history.length;
    return lineChart({
      title: `${this.what}: training loss`,
      series: [{ name: "loss", y: this.history }],
      x: this.history.map((_, i) => start + i + 1),
      xTitle: "step",
      yTitle: "loss (nats/token)",
    });
  }
}

export interface InvariantCheck {
  name: string;
  part: "trunk" | "public expert" | "public router row";
  identical: boolean;
}

/** FlexOlmo's coordination invariant for one owner: frozen parts bit-identical to the public model. */
export class InvariantReport extends ResultRecord {
  // Declaration order is the JSON key order (see ResultRecord.toJSON).
  readonly owner!: string;
  readonly ok: boolean;
  readonly publicTrunk!: string;
  readonly livePublicTrunk!: string;
  readonly checks!: InvariantCheck[];

  constructor(init: { owner: string; publicTrunk: string; livePublicTrunk: string; checks: InvariantCheck[] }) {
    super();
    assignFields(this, init, ["owner", "publicTrunk", "livePublicTrunk", "checks"]);
    this.ok = init.checks.every((c) => c.identical);
  }

  get failures(): InvariantCheck[] {
    return this.checks.filter((c) => !c.identical);
  }

  private table(): TableSpec {
    const parts = ["trunk", "public expert", "public router row"] as const;
    const rows = parts.map((p) => {
      const cs = this.checks.filter((c) => c.part === p);
      return [p, cs.length, cs.filter((c) => c.identical).length];
    });
    return { columns: ["part", "tensors", "identical"], rows, digits: 6 };
  }

  private head(): string {
    return this.ok
      ? `owner "${this.owner}": all ${this.checks.length} frozen tensors are bit-identical to the public model ✓`
      : `owner "${this.owner}": ${this.failures.length} of ${this.checks.length} frozen tensors DIFFER from the public model ✗ (${this.failures.slice(0, 3).map((f) => f.name).join(", ")}${this.failures.length > 3 ? ", …" : ""})`;
  }

  toString(): string {
    return textOf(this.head(), this.table(), this.publicTrunk !== this.livePublicTrunk && "(the public model has changed since this owner started from it)");
  }

  protected override html(): HtmlPart[] {
    return [`<p>${this.ok ? "✓" : "✗"} ${this.head()}</p>`, this.table()];
  }
}
