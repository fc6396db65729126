package io.mqtstream.nn;

/**
 * Bicubic resizing of a channels-last grid, with the semantics of PyTorch's {@code
 * F.interpolate(mode="bicubic", align_corners=False)}: cubic convolution with a = −0.75, source
 * coordinate (dst + ½)·(in/out) − ½ (not clamped), taps outside the grid read its border. The MQT
 * reference resizes its query-grid positions to the patch grid this way.
 */
public final class Bicubic {
  private static final double A = -0.75;

  private Bicubic() {}

  /**
   * @param src rows × cols × channels, row-major
   * @return outRows × outCols × channels, row-major
   */
  public static float[] resize(
      float[] src, int rows, int cols, int channels, int outRows, int outCols) {
    if (src.length != rows * cols * channels) {
      throw new IllegalArgumentException(
          src.length + " values for " + rows + " × " + cols + " × " + channels);
    }
    float[] out = new float[outRows * outCols * channels];
    double scaleY = (double) rows / outRows;
    double scaleX = (double) cols / outCols;
    double[] wy = new double[4];
    double[] wx = new double[4];
    for (int oy = 0; oy < outRows; oy++) {
      double sy = (oy + 0.5) * scaleY - 0.5;
      int y0 = (int) Math.floor(sy);
      weights(sy - y0, wy);
      for (int ox = 0; ox < outCols; ox++) {
        double sx = (ox + 0.5) * scaleX - 0.5;
        int x0 = (int) Math.floor(sx);
        weights(sx - x0, wx);
        int base = (oy * outCols + ox) * channels;
        for (int c = 0; c < channels; c++) {
          double sum = 0;
          for (int i = 0; i < 4; i++) {
            int y = clamp(y0 - 1 + i, rows);
            double row = 0;
            for (int j = 0; j < 4; j++) {
              int x = clamp(x0 - 1 + j, cols);
              row += wx[j] * src[(y * cols + x) * channels + c];
            }
            sum += wy[i] * row;
          }
          out[base + c] = (float) sum;
        }
      }
    }
    return out;
  }

  /** The four tap weights at fractional offset t ∈ [0, 1). */
  private static void weights(double t, double[] w) {
    w[0] = far(t + 1);
    w[1] = near(t);
    w[2] = near(1 - t);
    w[3] = far(2 - t);
  }

  /** |x| ≤ 1. */
  private static double near(double x) {
    return ((A + 2) * x - (A + 3)) * x * x + 1;
  }

  /** 1 < |x| < 2. */
  private static double far(double x) {
    return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  }

  private static int clamp(int i, int size) {
    return Math.max(0, Math.min(size - 1, i));
  }
}
