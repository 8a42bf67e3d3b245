/**
 * The data a model is evaluated and trained on: the corpus, the tokenizer, and the training
 * context length. Loaded once per process and shared, because encoding the corpus takes seconds.
 */
import { loadCorpus, type Corpus } from "../data/corpus";
import { loadTokenizer, type Tokenizer } from "../data/tokenizer";
import { checkDomain } from "../data/corpus";

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
