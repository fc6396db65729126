package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.FloatBuffer;

/**
 * One frame's visual tokens, encoded once at M and held on the heap, so a change of m never
 * re-encodes: {@link #tokens(int)} is a view of the first m rows, no copy.
 */
public final class VisualTokens {
  private final float[] data;
  private final int count;
  private final int maxTokens;
  private final int dim;

  VisualTokens(float[] data, int maxTokens, int dim) {
    this(data, maxTokens, maxTokens, dim);
  }

  private VisualTokens(float[] data, int count, int maxTokens, int dim) {
    this.data = data;
    this.count = count;
    this.maxTokens = maxTokens;
    this.dim = dim;
  }

  /** The first m tokens: a view sharing this frame's data. */
  public VisualTokens tokens(int m) {
    if (m < 1 || m > maxTokens) {
      throw new IllegalArgumentException("m must be in 1.." + maxTokens + ", got " + m);
    }
    return m == count ? this : new VisualTokens(data, m, maxTokens, dim);
  }

  /** How many tokens this view holds (m). */
  public int count() {
    return count;
  }

  /** M, the most tokens this frame has. */
  public int maxTokens() {
    return maxTokens;
  }

  /** Width of one token (the LLM's embedding width). */
  public int dim() {
    return dim;
  }

  /** Token i's value at channel c. */
  public float get(int token, int channel) {
    if (token >= count) {
      throw new IndexOutOfBoundsException("token " + token + " of " + count);
    }
    return data[token * dim + channel];
  }

  /** The view as a tensor (m, dim) in {@code manager}. */
  public NDArray toNDArray(NDManager manager) {
    return manager.create(FloatBuffer.wrap(data, 0, count * dim), new Shape(count, dim));
  }

  /** The view's values, copied, row-major (m × dim). */
  public float[] toFloatArray() {
    return java.util.Arrays.copyOf(data, count * dim);
  }
}
