/**
 * The one evaluator: per-domain perplexity over evenly spaced windows of a corpus split, batched,
 * yielding to the event loop between batches. FlexModel and every baseline (ensembles, soups,
 * prompt routing) evaluate through it, so the numbers of every model in a comparison are over
 * identical tokens and differ only in how a model scores a batch.
 */
import { evalBatches, inputsAndTargets, tokenStreams } from "../data/batcher";
import type { OptOutGuarantee } from "./cards";
import { defaultDataContext, type DataContext } from "./context";
import { EvalResult, type EvalRow } from "./results";
import { checkOptionKeys } from "../util/options";

/**
 * Which windows of a corpus a pass reads, and in how many rows at a time: evaluation here, the
 * routing sample of lib/inspect/collect.ts. Each states its own defaults.
 */
export interface WindowOptions {
  /** Domains to read. */
  domains?: readonly string[];
  /** Corpus split. */
  split?: "train" | "valid" | "test";
  /** Windows per domain, evenly spaced across the split. */
  maxWindows?: number;
  /** Tokens per window. */
  seqLen?: number;
  /** Rows per forward pass. */
  batchSize?: number;
}

/**
 * The options every comparable model's `evaluate` accepts. Defaults: every domain that has an
 * expert in the model, plus public; split "test"; 32 windows per domain, enough for ±2 % perplexity
 * at toy scale; the model's training context from the data context (else 128) per window; 16 rows
 * per forward pass.
 */
export interface WindowEvalOptions extends WindowOptions {
  /** A model to compare against: the result gains its perplexities and the relative improvement. */
  reference?: { evaluate(opts: WindowEvalOptions): Promise<EvalResult> };
}

/** One batch of evaluation windows, plus the text before each window (for input-dependent weights). */
export interface ScoreBatch {
  /** [B, T] inputs and [B, T] targets, row-major. */
  inputs: Int32Array;
  targets: Int32Array;
  B: number;
  T: number;
  domain: string;
  /**
   * Per row: the stream tokens before the window's first target — the previous window's T + 1
   * tokens (ending with this window's first input), or just that one token for the first window.
   * None of them is a target of this window, so weights computed from them cannot leak a target.
   */
  contexts: Int32Array[];
}

/** What the evaluator needs from a model: a name, its guarantee, and how it scores a batch. */
export interface WindowEvaluator {
  label: string;
  experts: string[];
  optOut: OptOutGuarantee;
  data: DataContext | undefined;
  maxSeqLen: number;
  /** Domains when the caller names none. */
  defaultDomains: (ctx: DataContext) => string[];
  /** The summed negative log-likelihood (nats) of the batch's B·T targets. */
  score(b: ScoreBatch): Promise<number>;
}

/** Domains with an expert in the model (those the corpus knows), then public. */
export function defaultEvalDomains(experts: readonly string[], ctx: DataContext): string[] {
  const ds = experts.filter((e) => ctx.domains.includes(e));
  if (!ds.includes("public") && ctx.domains.includes("public")) ds.push("public");
  return ds;
}

/**
 * Checks window options before any work, naming the verb the user called (the data layer's own
 * checks would name its internal function). `seqLen` above the model's context is refused rather
 * than silently shortened: the caller asked for windows the model cannot read.
 */
/** The keys of `WindowOptions` (a verb that takes more names them in `checkWindowOptions`). */
export const WINDOW_KEYS = ["domains", "split", "maxWindows", "seqLen", "batchSize"] as const;

/**
 * Check window options before any work. `extraKeys`: the verb's own options beside the window
 * keys; any other key is refused (a misspelt `maxWindow` would otherwise be ignored, and the
 * default silently used).
 */
export function checkWindowOptions(opts: WindowOptions, maxSeqLen: number, verb: string, extraKeys: readonly string[] = []): void {
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) throw new Error(`${verb}: options must be an object such as { domains: ["math"], maxWindows: 8 } (got ${JSON.stringify(opts)}).`);
  checkOptionKeys(opts, [...WINDOW_KEYS, ...extraKeys], verb);
  if (opts.domains !== undefined && (!Array.isArray(opts.domains) || opts.domains.some((d) => typeof d !== "string"))) {
    throw new Error(`${verb}: domains must be an array of domain names, e.g. ["math", "public"] (got ${JSON.stringify(opts.domains)}).`);
  }
  if (opts.split !== undefined && !["train", "valid", "test"].includes(opts.split)) throw new Error(`${verb}: split must be "train", "valid" or "test" (got ${JSON.stringify(opts.split)}).`);
  const posInt = (k: "maxWindows" | "batchSize" | "seqLen") => {
    const v = opts[k];
    if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= 1)) throw new Error(`${verb}: ${k} must be a positive integer (got ${String(v)}).`);
  };
  posInt("maxWindows");
  posInt("batchSize");
  posInt("seqLen");
  if (opts.seqLen !== undefined && opts.seqLen > maxSeqLen) throw new Error(`${verb}: seqLen ${opts.seqLen} is longer than the model's context (maxSeqLen ${maxSeqLen}); pass at most ${maxSeqLen}.`);
}

export async function evaluateWindows(ev: WindowEvaluator, opts: WindowEvalOptions = {}): Promise<EvalResult> {
  checkWindowOptions(opts, ev.maxSeqLen, "evaluate", ["reference"]);
  const ctx = ev.data ?? (await defaultDataContext());
  const split = opts.split ?? "test";
  const domains = opts.domains ?? ev.defaultDomains(ctx);
  if (domains.length === 0) throw new Error('evaluate: no domains given; pass e.g. { domains: ["math", "public"] }.');
  for (const d of domains) ctx.checkDomain(d);
  const seqLen = Math.min(opts.seqLen ?? ctx.seqLen, ev.maxSeqLen);
  const t0 = performance.now();
  const streams = await tokenStreams(ctx.corpus, ctx.tokenizer, { split, domains });
  const sums = new Map<string, { nll: number; tokens: number }>();
  for (const batch of evalBatches(streams, { batchSize: opts.batchSize ?? 16, seqLen, domains, maxWindows: opts.maxWindows ?? 32 })) {
    const { inputs, targets } = inputsAndTargets(batch);
    const d = batch.domains[0]; // eval batches never mix domains
    const T = batch.seqLen;
    const stream = streams[d];
    const contexts = batch.windows.map((k) => stream.subarray(Math.max(0, (k - 1) * T), k * T + 1));
    const nll = await ev.score({ inputs, targets, B: batch.batchSize, T, domain: d, contexts });
    const s = sums.get(d) ?? { nll: 0, tokens: 0 };
    s.nll += nll;
    s.tokens += batch.batchSize * T;
    sums.set(d, s);
    await new Promise((r) => setImmediate(r)); // keep the kernel responsive
  }
  const rows: EvalRow[] = domains.map((d) => {
    const s = sums.get(d);
    if (!s || s.tokens === 0) throw new Error(`evaluate: the ${split} split of "${d}" has too few tokens for one window of ${seqLen + 1}.`);
    const loss = s.nll / s.tokens;
    return { domain: d, tokens: s.tokens, loss, ppl: Math.exp(loss) };
  });
  const reference = opts.reference ? await opts.reference.evaluate({ ...opts, reference: undefined, domains }) : undefined;
  return new EvalResult({ model: ev.label, experts: ev.experts, optOut: ev.optOut, split, seqLen, rows, reference, seconds: (performance.now() - t0) / 1000 });
}
