/**
 * The data a model is evaluated and trained on: the corpus, the tokenizer, and the training
 * context length. Loaded once per process and shared, because encoding the corpus takes seconds.
 */
import { loadCorpus, type Corpus } from "../data/corpus";
import { loadTokenizer, type Tokenizer } from "../data/tokenizer";
import { checkDomain } from "../data/corpus";
import type { BackendReport } from "../backend";
import type { ModelConfig, PresetName } from "../model/config";
import type { TrainConfig } from "../train/config";
import type { DomainMix, TokenBatcher, TokenStreams } from "../data/batcher";
import type { DomainClassifier } from "../data/classifier";
import type { DomainEmbedding, EmbedOptions } from "./embed";
import type { FlexRecipe } from "./recipes";

export interface DataContext {
  corpus: Corpus;
  tokenizer: Tokenizer;
  /** Domains the corpus has. */
  domains: readonly string[];
  /** Default context length for evaluation windows (the training preset's). */
  seqLen: number;
  /** Throws a clear error for a domain the corpus does not have. */
  checkDomain(d: string): void;
}

export async function makeDataContext(opts: { corpus?: string | Corpus; tokenizer?: string | Tokenizer; seqLen?: number } = {}): Promise<DataContext> {
  const corpus = typeof opts.corpus === "object" ? opts.corpus : await loadCorpus(opts.corpus);
  const tokenizer = typeof opts.tokenizer === "object" ? opts.tokenizer : await loadTokenizer(opts.tokenizer);
  const domains: readonly string[] = [...corpus.domains];
  return {
    corpus,
    tokenizer,
    domains,
    seqLen: opts.seqLen ?? 128,
    checkDomain: (d: string) => {
      checkDomain(d);
      if (!domains.includes(d)) throw new Error(`Domain "${d}" is not in this corpus (${domains.join(", ")}).`);
    },
  };
}

let shared: Promise<DataContext> | undefined;

/** The shipped corpus and tokenizer, loaded once per process. */
export function defaultDataContext(): Promise<DataContext> {
  shared ??= makeDataContext().catch((e) => {
    shared = undefined; // let a later call retry (e.g. after `npm run data:build`)
    throw e;
  });
  return shared;
}

/**
 * What the public model, owners, baselines and router tuning need from a lab: its settings, its
 * data, seeded batches and the (cached) domain embeddings and classifier. A plain record of values
 * and functions, so those modules never import the Lab class (which constructs them).
 */
export interface LabContext {
  readonly preset: PresetName;
  readonly seed: number;
  readonly backend: BackendReport;
  /** The dense public model's config (experts = ["public"]). */
  readonly modelConfig: ModelConfig;
  /** Optimizer, batch and routing settings; the LR schedule is laid out per `train` call. */
  readonly trainConfig: TrainConfig;
  readonly data: DataContext;
  /** The named recipe owners and merges take their defaults from ("paper" or "lab"). */
  readonly recipe: FlexRecipe;
  /** A seeded, resumable batcher over one domain or a weighted mix of the train split. */
  batches(mix: DomainMix, seed: number, tc?: TrainConfig): Promise<TokenBatcher>;
  /** Token streams of a split, one per domain. */
  streams(split: "train" | "valid" | "test", domains: readonly string[]): Promise<TokenStreams>;
  /** The domain embedding of `domain` (docs/method.md §2.2), cached per lab. */
  embed(domain: string, opts?: EmbedOptions): Promise<DomainEmbedding>;
  /** The naive-Bayes domain classifier over the closed domains (cached). */
  classifier(): Promise<DomainClassifier>;
}
