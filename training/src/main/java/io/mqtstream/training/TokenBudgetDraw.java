package io.mqtstream.training;

import java.util.Random;
import java.util.stream.IntStream;

/**
 * The Matryoshka draw: each training step uses the first m latent queries, m drawn uniformly from
 * the even numbers 2..M (the paper's setting), or fixed for the per-m baselines.
 */
record TokenBudgetDraw(int[] choices) {

  static TokenBudgetDraw matryoshka(int maxTokens) {
    return new TokenBudgetDraw(IntStream.rangeClosed(1, maxTokens / 2).map(i -> 2 * i).toArray());
  }

  static TokenBudgetDraw fixed(int m) {
    return new TokenBudgetDraw(new int[] {m});
  }

  int draw(Random random) {
    return choices[random.nextInt(choices.length)];
  }
}
