package io.mqtstream.training;

/** Linear warm-up to the peak rate, then cosine decay to {@code floor × peak} at the last step. */
record LearningRate(float peak, int warmupSteps, int totalSteps, float floor) {

  float at(int step) {
    if (step < warmupSteps) {
      return peak * (step + 1) / warmupSteps;
    }
    double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    double cosine = 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
    return (float) (peak * (floor + (1 - floor) * cosine));
  }
}
