package io.mqtstream.training;

/**
 * The error of the best constant guess: per group (an identity, a frame) and coordinate, the mean
 * of the values added, scored as mean squared error per coordinate on those very values
 * (optimistic, since it is fitted on what it scores). A learnt read must beat it to have read
 * anything from its input.
 */
final class ConstantGuess {
  private final int width;
  private final double[] sum;
  private final double[] squares;
  private final double[] count;

  ConstantGuess(int groups, int width) {
    this.width = width;
    this.sum = new double[groups * width];
    this.squares = new double[groups * width];
    this.count = new double[groups];
  }

  void add(int group, double... values) {
    count[group]++;
    for (int a = 0; a < width; a++) {
      sum[group * width + a] += values[a];
      squares[group * width + a] += values[a] * values[a];
    }
  }

  /** Mean squared error per coordinate over every value added. */
  double error() {
    double error = 0;
    double seen = 0;
    for (int g = 0; g < count.length; g++) {
      seen += count[g];
      for (int a = 0; a < width && count[g] > 0; a++) {
        error += squares[g * width + a] - sum[g * width + a] * sum[g * width + a] / count[g];
      }
    }
    return error / (width * seen);
  }
}
