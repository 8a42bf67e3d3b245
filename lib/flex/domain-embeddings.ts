/**
 * Domain embeddings (docs/method.md §2.2): the router row of an owner's expert starts as the mean
 * embedding of documents sampled from its domain. The same call on any owner's machine gives a
 * bit-identical vector: the embedder is public and deterministic, the IDF table comes from the public
 * split, and the document sample is a seeded hash order. That is what lets owners who never meet
 * agree on the public router row r_pub.
 */
import * as tf from "../tf";
import { forwardHidden } from "../model/model";
import { sha256u32 } from "../util/hash";
import type { DataContext } from "./context";
import { fitIdf, l2normalise, meanEmbedding, randomEmbedding, type DomainEmbedding, type EmbedderName, type EmbeddingModel, type EmbedOptions, type IdfTable } from "./embed";
import { vectorHash } from "./trunk";

export class DomainEmbeddings {
  private idf?: IdfTable;
  private readonly cache = new Map<string, Promise<DomainEmbedding>>();

  constructor(
    private readonly data: DataContext,
    private readonly seed: number,
    private readonly dModel: number,
    /** Tokens per document the "public" embedder reads (the training context). */
    private readonly seqLen: number,
  ) {}

  /** Documents of a domain's train split in a seeded order (the sample S_i of docs/method.md §2.2). */
  sampleDocuments(domain: string, n: number): { text: string; license: string }[] {
    this.data.checkDomain(domain);
    const docs = this.data.corpus.documents({ domain, split: "train" });
    const order = docs.map((d, i) => ({ i, key: sha256u32(`${this.seed}:${domain}:${d.id}`) }));
    order.sort((a, b) => a.key - b.key || a.i - b.i);
    return order.slice(0, Math.min(n, docs.length)).map(({ i }) => docs[i]);
  }

  /** The mean document embedding of `domain` over `docs` documents (cached; every owner embeds "public" too). */
  async embed(domain: string, opts: EmbedOptions = {}): Promise<DomainEmbedding> {
    const embedder = opts.embedder ?? "external";
    const n = opts.docs ?? 1000;
    // The public-model embedder depends on that model's weights: its fingerprint is part of the key.
    const key = `${domain}|${embedder}|${n}|${embedder === "public" && opts.from ? opts.from.trunkFingerprint() : ""}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.compute(domain, embedder, n, opts.from);
      this.cache.set(key, hit);
      hit.catch(() => this.cache.delete(key));
    }
    const e = await hit;
    return { ...e, vector: e.vector.slice() };
  }

  private async compute(domain: string, embedder: EmbedderName, n: number, from: EmbeddingModel | undefined): Promise<DomainEmbedding> {
    if (!Number.isInteger(n) || n < 1) throw new Error(`embed: docs must be a positive integer (got ${n}).`);
    const d = this.dModel;
    let vector: Float32Array;
    let documents = 0;
    if (embedder === "external") {
      this.idf ??= fitIdf(this.data.corpus.documents({ domain: "public", split: "train" }).map((x) => x.text));
      const docs = this.sampleDocuments(domain, n);
      vector = meanEmbedding(docs.map((x) => x.text), d, this.idf);
      documents = docs.length;
    } else if (embedder === "public") {
      if (!from) throw new Error('embed: embedder "public" needs the public model: embed(domain, { embedder: "public", from: pub }).');
      const docs = this.sampleDocuments(domain, n);
      vector = await this.publicHidden(from, docs.map((x) => x.text));
      documents = docs.length;
    } else if (embedder === "random") {
      // The seed depends on the domain only through a public rule, so every owner draws the same r_pub.
      vector = randomEmbedding(d, (this.seed * 1_000_003 + sha256u32(`router-init:${domain}`)) >>> 0);
    } else {
      throw new Error(`Unknown embedder "${String(embedder)}". Embedders: external, public, random.`);
    }
    return { domain, embedder, documents, vector, sha256: vectorHash(vector) };
  }

  /**
   * The public model's own representation of documents (the paper's weaker alternative): per
   * document the mean final hidden state over its first `seqLen` tokens, L2-normalised, then
   * averaged. NOTE: the paper does not say which layer; we take the last (post final norm), the
   * usual "sentence embedding" of a decoder.
   */
  private async publicHidden(pub: EmbeddingModel, texts: string[]): Promise<Float32Array> {
    const d = this.dModel;
    const acc = new Float64Array(d);
    let used = 0;
    for (const text of texts) {
      const ids = this.data.tokenizer.encode(text).slice(0, this.seqLen);
      if (ids.length === 0) continue;
      const meanT = tf.tidy(() => {
        const x = tf.tensor2d(Int32Array.from(ids), [1, ids.length], "int32");
        return tf.mean(forwardHidden(pub.params, pub.config, x).hidden, 0); // [C]
      });
      const v = l2normalise(Float64Array.from(await meanT.data()));
      meanT.dispose();
      for (let j = 0; j < d; j++) acc[j] += v[j];
      used++;
    }
    if (used === 0) throw new Error("embed: none of the sampled documents has any tokens.");
    return Float32Array.from(acc, (x) => x / used);
  }
}
