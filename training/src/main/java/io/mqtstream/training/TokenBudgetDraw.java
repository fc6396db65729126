package io.mqtstream.training;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * The Matryoshka draw: each training step uses the first m latent queries, m drawn from the even
 * numbers 2..M (or the configured {@code mChoices}, e.g. the engine's budget ladder), uniformly
 * (the paper's setting) or with weight m^-power ({@code mDrawPower}; 1 = log-uniform: every
 * doubling of m drawn about as often, so the small budgets the engine falls back to under load
 * train as often as the large ones), or fixed for the per-m baselines.
 *
 * @param choices the m a step may use
 * @param cumulative the choices' cumulative probabilities, or null for a uniform draw
 */
record TokenBudgetDraw(int[] choices, double[] cumulative) {

  /** The draw a run's config asks for: its fixed m, else its {@code mChoices} or every even m. */
  static TokenBudgetDraw of(TrainConfig config) {
    if (config.fixedM() > 0) {
      return fixed(config.fixedM());
    }
    return config.mChoices().isEmpty()
        ? weighted(config.encoder().mqt().maxTokens(), config.mDrawPower())
        : weighted(
            config.mChoices().stream().mapToInt(Integer::intValue).toArray(), config.mDrawPower());
  }

  /**
   * Even m in 2..M with probability proportional to m^-power; power 0 is the reference's draw,
   * every even m alike (drawn with {@code nextInt}, as runs before {@code mDrawPower} drew it).
   */
  static TokenBudgetDraw weighted(int maxTokens, double power) {
    return weighted(IntStream.rangeClosed(1, maxTokens / 2).map(i -> 2 * i).toArray(), power);
  }

  /**
   * The given m (ascending) with probability proportional to m^-power; power 0: every one alike.
   */
  static TokenBudgetDraw weighted(int[] choices, double power) {
    if (power == 0) {
      return new TokenBudgetDraw(choices, null);
    }
    double[] cumulative = new double[choices.length];
    double sum = 0;
    for (int i = 0; i < choices.length; i++) {
      sum += Math.pow(choices[i], -power);
      cumulative[i] = sum;
    }
    for (int i = 0; i < choices.length; i++) {
      cumulative[i] /= sum;
    }
    return new TokenBudgetDraw(choices, cumulative);
  }

  static TokenBudgetDraw fixed(int m) {
    return new TokenBudgetDraw(new int[] {m}, null);
  }

  int draw(Random random) {
    if (cumulative == null) {
      return choices[random.nextInt(choices.length)];
    }
    int i = Arrays.binarySearch(cumulative, random.nextDouble());
    return choices[Math.min(i >= 0 ? i + 1 : -i - 1, choices.length - 1)];
  }
}
