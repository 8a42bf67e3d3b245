/**
 * Batches for training: `[B, T+1]` token windows, row-major. Inputs are `[:, :T]`, targets `[:, 1:]`.
 *
 * The trainer accepts any of: a function returning a batch, an iterator of batches, or a
 * `ResumableBatches` (which can report and restore its position, so a resumed run sees exactly the
 * batches an uninterrupted run would have seen). For plain functions/iterators the trainer records
 * how many batches it drew; resuming then skips that many from a freshly created source, which is
 * exact when the source is deterministic.
 */
import { Rng } from "../model/rng";

export interface Batch {
  /** [batchSize, seqLen + 1] token ids, row-major. */
  ids: Int32Array;
  batchSize: number;
  seqLen: number;
}

export interface ResumableBatches {
  next(): Batch;
  /** A JSON-serialisable position. */
  getState(): unknown;
  setState(state: unknown): void;
}

export type BatchSource = (() => Batch) | Iterator<Batch> | ResumableBatches;

export function isResumable(s: BatchSource): s is ResumableBatches {
  return typeof s === "object" && s !== null && typeof (s as ResumableBatches).getState === "function" && typeof (s as ResumableBatches).setState === "function";
}

/** Draw the next batch from any source, with a clear error when it runs dry. */
export function drawBatch(s: BatchSource): Batch {
  if (typeof s === "function") return s();
  if (isResumable(s)) return s.next();
  const it = s.next();
  if (it.done) throw new Error("The batch iterator is exhausted; give the trainer more batches (or a function that makes them)");
  return it.value;
}

/** Check a batch's shape and ids (clear errors instead of a deep TF.js failure). */
export function checkBatch(b: Batch, vocabSize: number, maxSeqLen: number): void {
  if (!b || !(b.ids instanceof Int32Array)) throw new Error("A batch must be { ids: Int32Array, batchSize, seqLen } with ids of length batchSize·(seqLen+1)");
  if (!Number.isInteger(b.batchSize) || b.batchSize < 1 || !Number.isInteger(b.seqLen) || b.seqLen < 1) throw new Error(`Batch batchSize/seqLen must be positive integers (got ${b.batchSize}, ${b.seqLen})`);
  if (b.ids.length !== b.batchSize * (b.seqLen + 1)) throw new Error(`Batch ids has ${b.ids.length} entries; expected batchSize·(seqLen+1) = ${b.batchSize}·${b.seqLen + 1} = ${b.batchSize * (b.seqLen + 1)} (inputs [:, :T], targets [:, 1:])`);
  if (b.seqLen > maxSeqLen) throw new Error(`Batch seqLen ${b.seqLen} exceeds the model's maxSeqLen ${maxSeqLen}`);
  for (let i = 0; i < b.ids.length; i++) {
    const v = b.ids[i];
    if (v < 0 || v >= vocabSize) throw new Error(`Batch token id ${v} at index ${i} is outside [0, ${vocabSize})`);
  }
}

/** Split a [B, T+1] batch into inputs [B·T] and targets [B·T]. */
export function splitBatch(b: Batch): { inputs: Int32Array; targets: Int32Array } {
  const { batchSize: B, seqLen: T, ids } = b;
  const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
  for (let r = 0; r < B; r++) {
    inputs.set(ids.subarray(r * (T + 1), r * (T + 1) + T), r * T);
    targets.set(ids.subarray(r * (T + 1) + 1, (r + 1) * (T + 1)), r * T);
  }
  return { inputs, targets };
}

/**
 * Random windows of T+1 consecutive tokens from one token stream, seeded and resumable. Windows may
 * overlap and cross document boundaries (documents are expected to be joined with an EOS token).
 */
export function randomWindows(tokens: Int32Array, batchSize: number, seqLen: number, seed: number): ResumableBatches {
  const span = seqLen + 1;
  if (tokens.length < span) throw new Error(`randomWindows: the token stream has ${tokens.length} tokens, fewer than seqLen + 1 = ${span}`);
  const rng = new Rng(seed);
  return {
    next() {
      const ids = new Int32Array(batchSize * span);
      for (let r = 0; r < batchSize; r++) {
        const off = rng.int(tokens.length - span + 1);
        ids.set(tokens.subarray(off, off + span), r * span);
      }
      return { ids, batchSize, seqLen };
    },
    getState: () => ({ rng: rng.state }),
    setState(s: unknown) {
      const st = s as { rng?: unknown };
      if (!st || typeof st.rng !== "number") throw new Error(`randomWindows.setState: expected { rng: number } (got ${JSON.stringify(s)})`);
      rng.state = st.rng;
    },
  };
}
