/**
 * The shipped public model: the dense model a lab starts from by default, as the paper starts its
 * owners from a trained OLMo-2 instead of a random one. It is committed under
 * `data/public-<preset>/` (weights only, float32, ≈ 7 MB at the cpu preset) and built by
 * `flexolmo train-public` (`buildPublicModel` below); the exact command, the commit and the learning
 * curve are in its data card. Training is deterministic for a seed on a backend, so the command
 * rebuilds the same weights on the machine that built them (another BLAS build may round differently).
 *
 * A lab uses it only where it fits: same architecture, same tokenizer (sha256) and the shipped corpus.
 * Anything else (another preset, model overrides, a custom corpus or tokenizer) starts from scratch,
 * and `whyNotShipped` says why.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultCorpusDir } from "../data/corpus";
import { readCheckpointInfo, CHECKPOINT_FILES } from "../io/checkpoint";
import { archDiffs, type PresetName } from "../model/config";
import { writeFileAtomic } from "../util/fs";
import { gitCommit, packageRoot, packageVersion } from "../util/package";
import type { LabContext } from "./context";
import type { Lab } from "./lab";
import type { PublicModel } from "./public";

/** Where the shipped public model of a preset lives (it may not exist: only "cpu" ships one). */
export function shippedPublicDir(preset: PresetName): string {
  return path.join(packageRoot(), "data", `public-${preset}`);
}

/** What the shipped model's provenance records so a lab can tell whether it fits. */
export interface ShippedProvenance {
  kind: "public";
  shipped: true;
  preset: PresetName;
  seed: number;
  /** sha256 of the tokenizer it was trained with. */
  tokenizer: string;
  /** name@version of the corpus whose public split it was trained on. */
  corpus: string;
  command: string;
  commit?: string;
  packageVersion: string;
  backend: string;
  seconds: number;
  trunk: string;
}

/**
 * Why this lab cannot start from the shipped public model, or undefined when it can. Reads only the
 * checkpoint's config and sidecar (no weights).
 */
export async function whyNotShipped(lab: LabContext): Promise<string | undefined> {
  const dir = shippedPublicDir(lab.preset);
  if (!fs.existsSync(path.join(dir, CHECKPOINT_FILES.config))) return `no public model is shipped for the "${lab.preset}" preset (only at ${path.relative(packageRoot(), shippedPublicDir("cpu"))})`;
  if (path.resolve(lab.data.corpus.dir) !== path.resolve(defaultCorpusDir())) return `the lab uses another corpus (${lab.data.corpus.dir}); the shipped model was trained on the shipped FlexMix-mini`;
  const info = await readCheckpointInfo(dir);
  const prov = (info.sidecar.provenance ?? {}) as Partial<ShippedProvenance>;
  if (prov.tokenizer !== lab.data.tokenizer.sha256) return `the lab's tokenizer (sha256 ${lab.data.tokenizer.sha256.slice(0, 12)}…) is not the one the shipped model was trained with`;
  const diffs = archDiffs(info.config, lab.modelConfig);
  if (diffs.length) return `the lab's model differs from the shipped one (shipped vs lab): ${diffs.join(", ")}`;
  return undefined;
}

export interface OpenPublicOptions {
  /** "shipped", "scratch", or undefined: shipped where it fits, else scratch. */
  from?: "shipped" | "scratch";
  /** Steps to train in this run (default: 0 on a pretrained model, `scratchSteps` from scratch). */
  steps?: number;
  scratchSteps: number;
  log: (line: string) => void;
}

/**
 * The public model a run starts from, as the pipeline and `flexolmo compare` share it: the shipped one
 * or a fresh one, how many steps to train it here, and a one-line description for results. A fresh
 * model with 0 steps is refused (an untrained public model would make every comparison meaningless).
 */
export async function openPublicModel(lab: Lab, o: OpenPublicOptions): Promise<{ pub: PublicModel; steps: number; description: string }> {
  const pub = await lab.publicModel({ from: o.from });
  const steps = o.steps ?? (pub.pretrained ? 0 : o.scratchSteps);
  if (!pub.pretrained && steps === 0) {
    pub.dispose();
    throw new Error("The public model starts from scratch here; give it --public-steps N > 0.");
  }
  const source = pub.pretrained ? `${pub.pretrained.shipped ? "shipped" : pub.pretrained.from} (${pub.pretrained.steps} steps)` : "";
  if (pub.pretrained) o.log(`public model: the ${source} pretrained model${steps ? `, + ${steps} steps` : ""}`);
  else o.log(`public model: from scratch (${o.from === "scratch" ? "asked for" : await lab.whyNotShipped()})`);
  return { pub, steps, description: pub.pretrained ? `${source}${steps ? ` + ${steps}` : ""}` : `scratch, ${steps} steps` };
}

export interface BuildPublicOptions {
  /** Total training steps (one warm-up + cosine schedule over all of them). */
  steps: number;
  /** Evaluate the valid split every this many steps (the learning curve in the card). */
  evalEvery: number;
  /** Valid windows per domain at each evaluation (and test windows at the end). */
  evalWindows: number;
  /** Items per toy task at the end (default 48, as `flex.tasks`). */
  taskItems?: number;
  out: string;
  /** The command line that ran this, recorded in the card so anyone can rebuild it. */
  command: string;
  log: (line: string) => void;
  /** Training steps done so far, after each step (a progress line). */
  onProgress?: (stepsDone: number) => void;
  signal?: AbortSignal;
}

export interface CurvePoint {
  step: number;
  seconds: number;
  /** Train loss averaged over the steps since the previous point. */
  trainLoss: number;
  /** Valid perplexity per domain. */
  valid: Record<string, number>;
}

export interface BuildPublicResult {
  out: string;
  steps: number;
  seconds: number;
  curve: CurvePoint[];
  tasks: { task: string; accuracy: number; chance: number; items: number }[];
  test: Record<string, number>;
}

/**
 * Train a public model from scratch on the lab's public split and save it (weights only) with a
 * card that holds the command, the learning curve, test perplexities and toy-task accuracies.
 * Interrupted (signal), it saves nothing: a shipped model is either the full run or absent.
 */
export async function buildPublicModel(lab: Lab, o: BuildPublicOptions): Promise<BuildPublicResult> {
  const { tasks } = await import("./tasks");
  const t0 = performance.now();
  const pub = await lab.publicModel({ from: "scratch" });
  try {
    const curve: CurvePoint[] = [];
    const domains = [...lab.domains];
    for (let done = 0; done < o.steps; ) {
      const n = Math.min(o.evalEvery, o.steps - done);
      const [before, base] = [done, pub.step]; // p.step counts the trainer's updates, not this call's
      const rec = await pub.train({ steps: n, schedule: done === 0 ? { steps: o.steps } : "continue", signal: o.signal, onProgress: (p) => o.onProgress?.(before + p.step - base) });
      if (rec.aborted) throw new Error(`train-public: interrupted at step ${pub.step} of ${o.steps}; nothing was saved.`);
      done += n;
      const ev = await pub.model().evaluate({ split: "valid", domains, maxWindows: o.evalWindows });
      const valid = Object.fromEntries(domains.map((d) => [d, round1(ev.ppl(d))]));
      const trainLoss = rec.losses.reduce((s, l) => s + l, 0) / Math.max(1, rec.losses.length);
      curve.push({ step: done, seconds: round1((performance.now() - t0) / 1000), trainLoss: Math.round(trainLoss * 1000) / 1000, valid });
      o.log(`step ${String(done).padStart(5)}  train loss ${trainLoss.toFixed(3)}  valid ppl ${domains.map((d) => `${d} ${valid[d].toFixed(1)}`).join("  ")}  (${curve[curve.length - 1].seconds.toFixed(0)} s)`);
    }
    const model = pub.model();
    const test = await model.evaluate({ split: "test", domains, maxWindows: o.evalWindows });
    const t = await tasks(model, { domains, n: o.taskItems });
    const seconds = round1((performance.now() - t0) / 1000);
    const result: BuildPublicResult = {
      out: o.out,
      steps: o.steps,
      seconds,
      curve,
      tasks: t.scores.map((s) => ({ task: s.task, accuracy: s.accuracy, chance: s.chance, items: s.items })),
      test: Object.fromEntries(domains.map((d) => [d, round1(test.ppl(d))])),
    };
    const provenance: ShippedProvenance = {
      kind: "public",
      shipped: true,
      preset: lab.preset,
      seed: lab.seed,
      tokenizer: lab.data.tokenizer.sha256,
      corpus: `${lab.data.corpus.manifest.name}@${lab.data.corpus.manifest.version}`,
      command: o.command,
      commit: gitCommit(),
      packageVersion: packageVersion(),
      backend: lab.backend.summary,
      seconds,
      trunk: pub.trunkFingerprint(),
    };
    await pub.save(o.out, { optimizer: false, provenance: { ...provenance }, metadata: { build: { curve, test: result.test, tasks: result.tasks } } });
    writeFileAtomic(path.join(o.out, "README.md"), cardMarkdown(lab, provenance, result)); // never a half-written card next to the weights
    return result;
  } finally {
    pub.dispose();
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** The human-readable card next to the weights. */
function cardMarkdown(lab: Lab, p: ShippedProvenance, r: BuildPublicResult): string {
  const domains = Object.keys(r.test);
  const c = lab.modelConfig, tc = lab.trainConfig;
  const lines = [
    `# The shipped public model (${p.preset} preset)`,
    "",
    "The dense model every FlexOlmo lab at this preset starts from by default (`lab.publicModel()`; pass",
    '`{ from: "scratch" }` for a fresh one). Trained on the public split of FlexMix-mini only.',
    "",
    "Rebuild it (deterministic for the seed on one machine; about the time below on 2 cores):",
    "",
    "```",
    p.command,
    "```",
    "",
    `| setting | value |`,
    `|---|---|`,
    `| model | d ${c.dModel}, ${c.nLayers} layers, ${c.nHeads} heads, FFN ${c.dFf}, vocabulary ${c.vocabSize} |`,
    `| training | ${r.steps} steps × batch ${tc.batchSize} × ${tc.seqLen} tokens, lr ${tc.lr} (warm-up + cosine), weight decay ${tc.weightDecay}, seed ${p.seed} |`,
    `| corpus | ${p.corpus}, public split (tokenizer sha256 ${p.tokenizer.slice(0, 16)}…) |`,
    `| built | ${p.seconds} s on ${p.backend}; commit ${p.commit ?? "unknown"}; flexolmo-lab ${p.packageVersion} |`,
    `| trunk fingerprint | ${p.trunk} |`,
    "",
    "## Learning curve (valid perplexity)",
    "",
    `| step | train loss | ${domains.join(" | ")} |`,
    `|---|---|${domains.map(() => "---").join("|")}|`,
    ...r.curve.map((pt) => `| ${pt.step} | ${pt.trainLoss.toFixed(3)} | ${domains.map((d) => pt.valid[d].toFixed(1)).join(" | ")} |`),
    "",
    "## Test perplexity",
    "",
    `| ${domains.join(" | ")} |`,
    `|${domains.map(() => "---").join("|")}|`,
    `| ${domains.map((d) => r.test[d].toFixed(1)).join(" | ")} |`,
    "",
    "## Toy tasks (likelihood-scored; chance = 1 / choices)",
    "",
    "| task | accuracy | chance | items |",
    "|---|---|---|---|",
    ...r.tasks.map((t) => `| ${t.task} | ${(100 * t.accuracy).toFixed(1)} % | ${(100 * t.chance).toFixed(0)} % | ${t.items} |`),
    "",
  ];
  return lines.join("\n");
}
