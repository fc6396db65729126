package io.mqtstream.nn;

/**
 * Fixed 2D sine-cosine positional embeddings over a grid, as in MAE and the MQT reference code:
 * half of the channels encode the row, half the column, each as [sin(pos·ω), cos(pos·ω)] with ω =
 * 10000^(−i/(D/4)).
 */
public final class SinCos2d {
  private SinCos2d() {}

  /**
   * @param dim embedding width, a multiple of 4
   * @param cells how many positions; laid out on the most square grid that holds them exactly
   *     ({@link #grid(int)}), row-major
   * @return {@code cells} rows of {@code dim} floats, row-major
   */
  public static float[] embed(int dim, int cells) {
    int[] g = grid(cells);
    return embed(dim, g[0], g[1]);
  }

  /** Embeddings of a rows × cols grid, row-major. */
  public static float[] embed(int dim, int rows, int cols) {
    if (dim % 4 != 0) {
      throw new IllegalArgumentException("sin-cos embedding width must be a multiple of 4: " + dim);
    }
    int quarter = dim / 4;
    float[] out = new float[rows * cols * dim];
    for (int row = 0; row < rows; row++) {
      for (int col = 0; col < cols; col++) {
        int base = (row * cols + col) * dim;
        for (int i = 0; i < quarter; i++) {
          double omega = 1.0 / Math.pow(10000.0, (double) i / quarter);
          out[base + i] = (float) Math.sin(row * omega);
          out[base + quarter + i] = (float) Math.cos(row * omega);
          out[base + 2 * quarter + i] = (float) Math.sin(col * omega);
          out[base + 3 * quarter + i] = (float) Math.cos(col * omega);
        }
      }
    }
    return out;
  }

  /**
   * Embeddings of a rows × cols grid in MAE's layout, as the MQT reference builds its {@code
   * pos_embed}: the first half of the channels encodes the column ("w"), the second half the row,
   * each half [sin(pos·ω_i) for i < D/4, cos(pos·ω_i) for i < D/4] with ω_i = 10000^(−i/(D/4));
   * cells row-major.
   */
  public static float[] embedColumnFirst(int dim, int rows, int cols) {
    if (dim % 4 != 0) {
      throw new IllegalArgumentException("sin-cos embedding width must be a multiple of 4: " + dim);
    }
    int quarter = dim / 4;
    float[] out = new float[rows * cols * dim];
    for (int row = 0; row < rows; row++) {
      for (int col = 0; col < cols; col++) {
        int base = (row * cols + col) * dim;
        for (int i = 0; i < quarter; i++) {
          // as the reference: ω in float32, the angle an outer product in float32 (numpy einsum)
          float omega = (float) (1.0 / Math.pow(10000.0, (float) i / quarter));
          float colAngle = col * omega;
          float rowAngle = row * omega;
          out[base + i] = (float) Math.sin(colAngle);
          out[base + quarter + i] = (float) Math.cos(colAngle);
          out[base + 2 * quarter + i] = (float) Math.sin(rowAngle);
          out[base + 3 * quarter + i] = (float) Math.cos(rowAngle);
        }
      }
    }
    return out;
  }

  /**
   * The most square rows × cols grid with exactly {@code n} cells (rows ≤ cols): 64 → 8×8, 576 →
   * 24×24, 6 → 2×3.
   */
  public static int[] grid(int n) {
    int rows = (int) Math.floor(Math.sqrt(n));
    while (n % rows != 0) {
      rows--;
    }
    return new int[] {rows, n / rows};
  }
}
