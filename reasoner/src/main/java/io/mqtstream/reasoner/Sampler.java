package io.mqtstream.reasoner;

import java.util.Arrays;
import java.util.Random;

/** Next-token choice from one row of logits: greedy, or temperature with optional top-k. */
final class Sampler {
  private Sampler() {}

  static long pick(float[] logits, Sampling s, Random random) {
    if (s.temperature() == 0f) {
      return argmax(logits);
    }
    int v = logits.length;
    float cutoff = Float.NEGATIVE_INFINITY;
    if (s.topK() > 0 && s.topK() < v) {
      float[] sorted = logits.clone();
      Arrays.sort(sorted);
      cutoff = sorted[v - s.topK()];
    }
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double[] p = new double[v];
    double sum = 0;
    for (int i = 0; i < v; i++) {
      p[i] = logits[i] < cutoff ? 0 : Math.exp((logits[i] - max) / s.temperature());
      sum += p[i];
    }
    double u = random.nextDouble() * sum;
    for (int i = 0; i < v; i++) {
      u -= p[i];
      if (u <= 0) {
        return i;
      }
    }
    return argmax(logits);
  }

  static long argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }
}
