/**
 * `flexolmo logits DIR --ids 1,2,3`: next-token logits and router probabilities for one sequence,
 * as JSON, with experts switched off (`--without`, `--only`) the FlexOlmo way: an excluded expert's
 * router row and FFN are removed, so the softmax runs over the remaining experts only.
 *
 * Output: { ids, experts, include, topK, bias, logits: [T][V], router: [layer][T][E] } where
 * router[l][t][e] is expert e's softmax probability (0 for excluded experts).
 */
import { FileError, formatBytes, readTextFile } from "../../util/fs";
import { type ParsedArgs, UsageError } from "../args";
import type { CliIO, Command } from "../registry";

/**
 * Largest --file input. The text is cut to the model's context anyway (max_position_embeddings
 * tokens), so megabytes are already generous; the limit stops `--file /dev/zero`-like inputs and
 * an accidental multi-gigabyte file from exhausting memory.
 */
export const MAX_TEXT_BYTES = 16 << 20;

/**
 * The text of `--file`: a regular file (after links), or standard input for "-", at most `max`
 * bytes of UTF-8. Standard input is read as a stream with a running count, so a pipe that never
 * ends stops at the limit instead of filling memory.
 */
export async function readTextInput(file: string, max = MAX_TEXT_BYTES, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let bytes: Buffer;
  if (file === "-") {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of stdin) {
      const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
      n += b.length;
      if (n > max) throw new UsageError(`--file -: standard input is longer than ${formatBytes(max)}; pass a shorter text (only the first max_position_embeddings tokens can be used anyway)`);
      chunks.push(b);
    }
    bytes = Buffer.concat(chunks);
  } else {
    try {
      return readTextFile(file, "the --file text", max);
    } catch (e) {
      if (e instanceof FileError) throw new UsageError(`--file: ${e.message}`);
      throw e;
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError("--file -: standard input is not valid UTF-8 text");
  }
}

/** "1,2, 3" → [1, 2, 3]; every entry a non-negative integer. */
export function parseIds(raw: string): number[] {
  const parts = raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new UsageError(`--ids needs at least one token id (e.g. --ids 1,2,3)`);
  return parts.map((s) => {
    if (!/^\d+$/.test(s)) throw new UsageError(`--ids must be comma-separated non-negative integers; "${s}" is not`);
    return Number(s);
  });
}

/** Resolve an expert given by name or index. */
function resolveExpert(token: string, experts: string[], flag: string): number {
  const byName = experts.indexOf(token);
  if (byName >= 0) return byName;
  if (/^\d+$/.test(token)) {
    const i = Number(token);
    if (i < experts.length) return i;
    throw new UsageError(`${flag} ${token}: expert index out of range (the model has ${experts.length} experts: ${experts.map((n, j) => `${j}=${n}`).join(", ")})`);
  }
  throw new UsageError(`${flag} "${token}": no such expert (experts: ${experts.map((n, j) => `${j}=${n}`).join(", ")})`);
}

/** The include mask from --without (repeatable, commas allowed) or --only. */
export function includeMask(experts: string[], without: string[] | undefined, only: string | undefined): boolean[] {
  if (without?.length && only !== undefined) throw new UsageError("use either --without or --only, not both");
  const split = (s: string) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0);
  let include: boolean[];
  if (only !== undefined) {
    include = experts.map(() => false);
    const list = split(only);
    if (!list.length) throw new UsageError("--only needs at least one expert name or index");
    for (const t of list) include[resolveExpert(t, experts, "--only")] = true;
  } else {
    include = experts.map(() => true);
    for (const t of (without ?? []).flatMap(split)) include[resolveExpert(t, experts, "--without")] = false;
  }
  if (!include.some(Boolean)) throw new UsageError("every expert is excluded; keep at least one");
  return include;
}

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const f = args.flags;
  const idsFlag = f.ids as string | undefined;
  const file = f.file as string | undefined;
  const given = [idsFlag, f.text, file].filter((v) => v !== undefined).length;
  if (given !== 1) throw new UsageError("give the input as exactly one of --ids 1,2,3 or --text \"…\" or --file PATH (- reads standard input)");
  if (f.tokenizer !== undefined && idsFlag !== undefined) throw new UsageError("--tokenizer only applies with --text or --file");
  const ids = idsFlag !== undefined ? parseIds(idsFlag) : undefined; // validate flags before loading anything
  const text = file !== undefined ? await readTextInput(file) : (f.text as string | undefined);
  if (file !== undefined && text!.length === 0) throw new UsageError(`--file ${file}: the text is empty`);

  const tf = await import("../../tf");
  const { loadCheckpoint, disposeCheckpoint } = await import("../../io/checkpoint");
  const { forward } = await import("../../model/model");

  const ck = await loadCheckpoint(args.positionals[0]);
  try {
    const cfg = ck.config;
    let tokens: number[];
    if (ids) tokens = ids;
    else {
      const { loadTokenizer } = await import("../../data/tokenizer");
      const tok = await loadTokenizer(f.tokenizer as string | undefined);
      if (tok.vocabSize > cfg.vocabSize) throw new Error(`the tokenizer has ${tok.vocabSize} tokens but the model's vocabulary is ${cfg.vocabSize}; pass the matching --tokenizer`);
      tokens = tok.encode(text!);
      if (!tokens.length) throw new UsageError(`${file !== undefined ? "--file" : "--text"} encodes to zero tokens`);
    }
    const bad = tokens.find((t) => t >= cfg.vocabSize);
    if (bad !== undefined) throw new UsageError(`token id ${bad} is outside the model's vocabulary (0 … ${cfg.vocabSize - 1})`);
    if (tokens.length > cfg.maxSeqLen) throw new UsageError(`${tokens.length} tokens exceed the model's max_position_embeddings (${cfg.maxSeqLen})`);

    const include = includeMask(cfg.experts, f.without as string[] | undefined, f.only as string | undefined);
    const nIncluded = include.filter(Boolean).length;
    const topK = (f["top-k"] as number | undefined) ?? Math.min(cfg.topK, nIncluded); // default: the config's k, capped at what is left
    if (topK < 1 || topK > nIncluded) throw new UsageError(`--top-k must be between 1 and the number of included experts (${nIncluded}); got ${topK}`);
    const bias = (f.bias as "keep" | "drop" | undefined) ?? "keep";

    const T = tokens.length;
    const E = cfg.experts.length;
    let telemetry: ReturnType<typeof forward>["telemetry"];
    const logitsT = tf.tidy(() => {
      const idsT = tf.tensor2d(tokens, [1, T], "int32"); // [B=1, T]
      const r = forward(ck.params, cfg, idsT, { include, topK, bias, telemetry: true });
      telemetry = r.telemetry;
      return r.logits; // [1, T, V]
    });
    const flat = logitsT.dataSync() as Float32Array; // [1·T·V]
    logitsT.dispose();
    const V = cfg.vocabSize;
    const logits = Array.from({ length: T }, (_, t) => Array.from(flat.subarray(t * V, (t + 1) * V)));
    const router = telemetry!.layers.map((l) => Array.from({ length: T }, (_, t) => Array.from(l.probs.subarray(t * E, (t + 1) * E)))); // [N·E] → [T][E]
    io.stdout(JSON.stringify({ ids: tokens, experts: cfg.experts, include, topK, bias, logits, router }) + "\n");
    return 0;
  } finally {
    disposeCheckpoint(ck);
  }
}

export const command: Command = {
  name: "logits",
  summary: "Print next-token logits and per-layer router probabilities for one sequence (JSON)",
  description:
    "Runs the model on one sequence. Switching experts off removes their router rows and FFNs,\n" +
    "so the router softmax is taken over the remaining experts (FlexOlmo opt-out). Output:\n" +
    "{ ids, experts, include, topK, bias, logits: [T][V], router: [layer][T][E] } (excluded experts: 0).",
  positionals: [{ name: "DIR", help: "checkpoint directory (Hugging Face FlexOlmo layout)" }],
  flags: [
    { name: "ids", type: "string", metavar: "1,2,3", help: "token ids, comma-separated" },
    { name: "text", type: "string", metavar: "TEXT", help: "text to tokenize (shipped FlexMix-mini tokenizer unless --tokenizer)" },
    { name: "file", type: "string", metavar: "PATH", help: `text to tokenize, read from a file (- for standard input; at most ${MAX_TEXT_BYTES >> 20} MiB): for texts too long for the command line` },
    { name: "tokenizer", type: "string", metavar: "PATH", help: "tokenizer.json to use with --text or --file" },
    { name: "without", type: "string", metavar: "NAME|INDEX", repeatable: true, help: "switch an expert off" },
    { name: "only", type: "string", metavar: "NAME,NAME", help: "keep only these experts" },
    { name: "top-k", type: "int", metavar: "K", help: "experts per token (default: config's top-k, capped at the included count)" },
    { name: "bias", type: "string", choices: ["keep", "drop"], help: "keep: add min(β,0) to owner experts' logits (paper; default); drop: plain softmax (HF release)" },
  ],
  examples: [
    "flexolmo logits runs/merged --ids 17,42,9",
    'flexolmo logits runs/merged --text "The court ruled" --without news',
    "flexolmo logits runs/merged --file essay.txt",
    "cat essay.txt | flexolmo logits runs/merged --file -",
    "flexolmo logits runs/merged --ids 1,2,3 --only public,code --top-k 1 --bias drop",
  ],
  needsBackend: true,
  run,
};
