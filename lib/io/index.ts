/** Checkpoint I/O: safetensors, the Hugging Face FlexOlmo directory layout, config.json mapping. */
export * from "./safetensors";
export * from "./hf-config";
export * from "./checkpoint";
