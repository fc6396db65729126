package io.mqtstream.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding (RoPE) in the "rotate half" layout of LLaMA: channel i and i + dh/2
 * rotate together by angle pos · θ^(−2i/dh). Positions are per sequence, so left-padded rows of a
 * batch get the same angles as when alone.
 */
public final class Rope {
  /** No rotation (learned absolute positions instead). */
  public static final Rope NONE = new Rope(null, null);

  private final NDArray cos; // (B, 1, L, dh)
  private final NDArray sin; // (B, 1, L, dh)

  private Rope(NDArray cos, NDArray sin) {
    this.cos = cos;
    this.sin = sin;
  }

  /**
   * @param positions (B, L) token positions
   */
  public static Rope of(NDManager manager, long[][] positions, int headDim, float theta) {
    int b = positions.length;
    int l = positions[0].length;
    int half = headDim / 2;
    float[] inverseFrequency = new float[half];
    for (int i = 0; i < half; i++) {
      inverseFrequency[i] = (float) Math.pow(theta, -2.0 * i / headDim);
    }
    NDArray pos =
        Tensors.longs(manager, positions).toType(DataType.FLOAT32, false).reshape(b, 1, l, 1);
    NDArray freq = Tensors.create(manager, inverseFrequency, 0, new Shape(1, 1, 1, half));
    NDArray angle = pos.mul(freq); // (B, 1, L, dh/2)
    angle = NDArrays.concat(new NDList(angle, angle), 3); // (B, 1, L, dh): both halves rotate alike
    return new Rope(angle.cos(), angle.sin());
  }

  /** The same rotations in another type (once per forward, not per layer), e.g. fp16. */
  public Rope as(DataType type) {
    return cos == null || cos.getDataType() == type
        ? this
        : new Rope(cos.toType(type, false), sin.toType(type, false));
  }

  /** (B, H, L, dh) → rotated (B, H, L, dh); {@link #as} the input's type first. */
  public NDArray apply(NDArray x) {
    if (cos == null) {
      return x;
    }
    long half = x.getShape().get(3) / 2;
    NDArray x1 = x.get(new NDIndex("..., :" + half));
    NDArray x2 = x.get(new NDIndex("..., " + half + ":"));
    NDArray rotated = NDArrays.concat(new NDList(x2.neg(), x1), 3);
    return x.mul(cos).add(rotated.mul(sin));
  }
}
