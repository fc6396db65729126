package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.mqtstream.nn.Tensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * One frame's visual tokens, encoded once at M and held off-heap in native byte order, so a change
 * of m never re-encodes: {@link #tokens(int)} is a view of the first m rows, and {@link #toNDArray}
 * wraps those rows as a tensor without copying. Immutable: never modify such a tensor in place.
 */
public final class VisualTokens {
  private final ByteBuffer data; // M × dim native floats
  private final int count;
  private final int maxTokens;
  private final int dim;

  VisualTokens(ByteBuffer data, int maxTokens, int dim) {
    this(data, maxTokens, maxTokens, dim);
  }

  private VisualTokens(ByteBuffer data, int count, int maxTokens, int dim) {
    this.data = data;
    this.count = count;
    this.maxTokens = maxTokens;
    this.dim = dim;
  }

  /** Tokens from plain floats (M × dim, row-major), e.g. in tests or from another encoder. */
  public static VisualTokens of(float[] values, int maxTokens, int dim) {
    if (values.length != maxTokens * dim) {
      throw new IllegalArgumentException(values.length + " values for " + maxTokens + " × " + dim);
    }
    return new VisualTokens(Tensors.direct(values, 0, values.length), maxTokens, dim);
  }

  /**
   * Each image's tokens from a batch the encoder computed, (B, M, dim): copied off the device once,
   * each frame a slice of that one buffer.
   */
  public static List<VisualTokens> batch(NDArray tokens) {
    NDArray floats =
        tokens.getDataType() == DataType.FLOAT32 ? tokens : tokens.toType(DataType.FLOAT32, false);
    Shape s = floats.getShape();
    int b = Math.toIntExact(s.get(0));
    int maxTokens = Math.toIntExact(s.get(1));
    int dim = Math.toIntExact(s.get(2));
    ByteBuffer all = Tensors.toDirect(floats);
    int per = maxTokens * dim * Float.BYTES;
    List<VisualTokens> out = new ArrayList<>(b);
    for (int i = 0; i < b; i++) {
      ByteBuffer frame = all.duplicate().position(i * per).limit((i + 1) * per);
      out.add(new VisualTokens(frame.slice().order(ByteOrder.nativeOrder()), maxTokens, dim));
    }
    return out;
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
    if (token >= count || channel >= dim) {
      throw new IndexOutOfBoundsException(
          "token " + token + " of " + count + ", channel " + channel);
    }
    return data.getFloat((token * dim + channel) * Float.BYTES);
  }

  /** The view as an (m, dim) tensor in {@code manager}, sharing this frame's memory. */
  public NDArray toNDArray(NDManager manager) {
    ByteBuffer rows = data.duplicate().order(ByteOrder.nativeOrder());
    rows.limit(count * dim * Float.BYTES);
    return Tensors.create(
        manager, rows.slice().order(ByteOrder.nativeOrder()), new Shape(count, dim));
  }

  /** The view's values, copied, row-major (m × dim). */
  public float[] toFloatArray() {
    float[] out = new float[count * dim];
    FloatBuffer f = data.duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer();
    f.get(out);
    return out;
  }
}
