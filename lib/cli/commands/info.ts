/**
 * `flexolmo info DIR`: what a checkpoint holds, read from config.json, the sidecar and the
 * safetensors headers only (no tensor data is loaded, so it is instant even for large files).
 */
import type { ParsedArgs } from "../args";
import type { CliIO, Command } from "../registry";

const fmtInt = (n: number) => n.toLocaleString("en-US");

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { readCheckpointInfo } = await import("../../io/checkpoint");
  const dir = args.positionals[0];
  const info = await readCheckpointInfo(dir);
  const cfg = info.config;
  const count = info.params;
  const E = cfg.experts.length;
  const anyBias = info.sidecar.expertBias.some((row) => row.some((b, e) => e > 0 && b !== 0));

  if (args.flags.json) {
    io.stdout(
      JSON.stringify(
        {
          dir: info.source.dir,
          config: cfg,
          params: count,
          files: info.source.files,
          dtypes: info.source.dtypes,
          sharded: info.source.sharded,
          tiedHead: info.source.tiedHead,
          experts: cfg.experts.map((name, e) => ({
            index: e,
            name,
            bias: anyBias && e > 0 ? info.sidecar.expertBias.map((row) => row[e]) : null,
            dataCard: info.sidecar.dataCards[e] ?? null,
          })),
          sidecar: info.sidecar.present,
          provenance: info.sidecar.provenance,
          step: info.sidecar.step,
          metadata: info.sidecar.metadata,
          optimizer: info.optimizer,
          hf: info.hf,
        },
        null,
        2,
      ) + "\n",
    );
    return 0;
  }

  const L: string[] = [];
  L.push(`checkpoint  ${info.source.dir}`);
  const dtypes = Object.entries(info.source.dtypes).map(([d, n]) => `${n} ${d}`).join(", ");
  L.push(`weights     ${info.source.files.join(", ")} (${info.counts.hfTensors} tensors: ${dtypes}${info.source.sharded ? "; sharded" : ""}${info.source.fusedExperts ? "; fused experts" : ""})`);
  if (info.source.tiedHead) L.push(`            tie_word_embeddings: the LM head is the embedding matrix (as in transformers; a stored lm_head.weight is not used)`);
  L.push(`sidecar     ${info.sidecar.present ? "flexolmo.json" : "none (written by another program: default expert names, bias 0)"}`);
  L.push(
    `model       vocab ${cfg.vocabSize}, d_model ${cfg.dModel}, ${cfg.nLayers} layers, ${cfg.nHeads} heads (${cfg.nKvHeads} kv), ` +
      `d_ff ${cfg.dFf}, max_seq ${cfg.maxSeqLen}, rope_theta ${cfg.ropeTheta}, rms_eps ${cfg.rmsNormEps}`,
  );
  L.push(`routing     ${E} expert${E === 1 ? "" : "s"}, top-${cfg.topK}, norm_topk_prob ${cfg.normTopkProb}`);
  L.push(`parameters  total ${fmtInt(count.total)} · active ${fmtInt(count.active)} (top-${cfg.topK} of ${E}) · in the HF file ${fmtInt(info.counts.hfParams)}`);
  L.push("experts");
  cfg.experts.forEach((name, e) => {
    let line = `  ${String(e).padStart(2)}  ${name}${e === 0 ? "  (public)" : ""}`;
    if (anyBias && e > 0) line += `  bias min(β,0) per layer: ${info.sidecar.expertBias.map((row) => Math.min(row[e], 0).toFixed(4)).join(" ")}`;
    L.push(line);
  });
  const cards = cfg.experts.map((n, e) => [n, info.sidecar.dataCards[e]] as const).filter(([, c]) => c !== null && c !== undefined);
  L.push(cards.length ? "data cards" : "data cards  none");
  for (const [n, c] of cards) L.push(`  ${n}: ${JSON.stringify(c)}`);
  if (info.sidecar.provenance) L.push(`provenance  ${JSON.stringify(info.sidecar.provenance)}`);
  if (info.sidecar.step !== null) L.push(`step        ${info.sidecar.step}`);
  if (Object.keys(info.sidecar.metadata).length) L.push(`metadata    ${JSON.stringify(info.sidecar.metadata)}`);
  if (info.optimizer) L.push(`optimizer   optimizer.safetensors (step ${info.optimizer.step}, ${info.optimizer.tensors} tensors)`);
  io.stdout(L.join("\n") + "\n");
  return 0;
}

export const command: Command = {
  name: "info",
  summary: "Show a checkpoint's config, parameter counts, experts (with bias values) and data cards",
  description: "Reads config.json, flexolmo.json and the safetensors headers; no weights are loaded.",
  positionals: [{ name: "DIR", help: "checkpoint directory (Hugging Face FlexOlmo layout)" }],
  flags: [{ name: "json", type: "boolean", help: "print JSON instead of text" }],
  examples: ["flexolmo info runs/merged", "flexolmo info runs/merged --json"],
  run,
};
