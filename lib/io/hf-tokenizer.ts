/**
 * The tokenizer files a Hugging Face checkpoint folder carries, so that `AutoTokenizer.from_pretrained(dir)`
 * loads the tokenizer the weights were trained with, and `generate()` knows when to stop:
 *
 *   tokenizer.json           the byte-level BPE itself (the `tokenizers` library's format, which ours is)
 *   tokenizer_config.json    which class reads it, the special tokens, the context length
 *
 * config.json then names the same ids (`eos_token_id`, `pad_token_id`): without them HF's `generate()`
 * never stops and cannot pad.
 */
import { EOS_TOKEN, PAD_TOKEN, type Tokenizer } from "../data/tokenizer";

export const TOKENIZER_FILES = { tokenizer: "tokenizer.json", config: "tokenizer_config.json" } as const;

export interface HfTokenizerFiles {
  /** File name → text. */
  files: Record<string, string>;
  eosTokenId: number;
  padTokenId: number;
}

/** The tokenizer files for `tok`, for a model whose context is `maxSeqLen` tokens. */
export function hfTokenizerFiles(tok: Pick<Tokenizer, "json" | "eosId" | "padId">, maxSeqLen: number): HfTokenizerFiles {
  // Without a <|pad|> token the tokenizer pads with <|endoftext|> (what Tokenizer.padId says).
  const padToken = tok.padId === tok.eosId ? EOS_TOKEN : PAD_TOKEN;
  const config = {
    tokenizer_class: "PreTrainedTokenizerFast", // reads tokenizer.json as it is
    eos_token: EOS_TOKEN, // the document separator of FlexMix-mini
    pad_token: padToken,
    bos_token: null, // documents are not prefixed (FlexOlmoConfig's bos_token_id is null too)
    unk_token: null, // byte-level: every string encodes
    model_max_length: maxSeqLen,
    clean_up_tokenization_spaces: false, // decoding must give back the exact text
  };
  return {
    files: {
      [TOKENIZER_FILES.tokenizer]: JSON.stringify(tok.json) + "\n",
      [TOKENIZER_FILES.config]: JSON.stringify(config, null, 2) + "\n",
    },
    eosTokenId: tok.eosId,
    padTokenId: tok.padId,
  };
}
