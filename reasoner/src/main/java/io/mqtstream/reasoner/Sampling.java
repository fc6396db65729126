package io.mqtstream.reasoner;

/**
 * How to pick the next token.
 *
 * @param maxNewTokens stop after this many generated tokens
 * @param temperature 0 = greedy; otherwise softmax temperature
 * @param topK sample among the k most likely tokens (0 = all)
 * @param seed seed of this prompt's sampling
 * @param keepLogits keep each step's logits in the completion (tests and debugging)
 * @param stopTokens tokens that end the answer besides the tokenizer's end-of-sequence
 */
public record Sampling(
    int maxNewTokens,
    float temperature,
    int topK,
    long seed,
    boolean keepLogits,
    long[] stopTokens) {
  public Sampling {
    stopTokens = stopTokens == null ? new long[0] : stopTokens.clone();
    if (maxNewTokens < 1) {
      throw new IllegalArgumentException("maxNewTokens: must be >= 1, got " + maxNewTokens);
    }
    if (temperature < 0 || topK < 0) {
      throw new IllegalArgumentException("temperature and topK: must be >= 0");
    }
  }

  public static Sampling greedy(int maxNewTokens) {
    return new Sampling(maxNewTokens, 0f, 0, 0, false, null);
  }

  public Sampling withLogits() {
    return new Sampling(maxNewTokens, temperature, topK, seed, true, stopTokens);
  }

  public Sampling withStopTokens(long... tokens) {
    return new Sampling(maxNewTokens, temperature, topK, seed, keepLogits, tokens);
  }

  boolean stops(long token) {
    for (long t : stopTokens) {
      if (t == token) {
        return true;
      }
    }
    return false;
  }
}
