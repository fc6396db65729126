/**
 * The LLM stage: tokenizer, a decoder-only LM with a KV cache, and the {@code PromptBatcher} that
 * batches prompts of mixed token budgets. Not built yet (its own issue).
 */
package io.mqtstream.reasoner;
