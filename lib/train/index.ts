/** The training engine: config, schedule, freezing, AdamW, losses, batches, the stepwise trainer. */
export * from "./config";
export * from "./schedule";
export * from "./freeze";
export * from "./adamw";
export * from "./loss";
export * from "./batches";
export * from "./trainer";
