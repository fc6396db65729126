package io.mqtstream.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Scaled dot-product attention split over heads; the one implementation the model uses. */
public final class Attention {
  /**
   * A hidden key's score in half precision: finite, so a fully hidden (padding) row gives no NaN,
   * and exp(−30000) is still exactly 0.
   */
  public static final float HIDDEN_HALF = -3e4f;

  private Attention() {}

  /**
   * Multi-head attention of queries over keys and values, already projected. Batch dimensions
   * broadcast, so queries (or keys) shared by every image may have batch 1.
   *
   * @param q (Bq, Nq, D)
   * @param k (Bk, Nk, D)
   * @param v (B, Nk, D)
   * @param heads divides D
   * @param additiveMask null, or broadcastable to (B, heads, Nq, Nk): added to the scores (use a
   *     large negative number to hide a key)
   * @return (B, Nq, D)
   */
  public static NDArray multiHead(
      NDArray q, NDArray k, NDArray v, int heads, NDArray additiveMask) {
    NDArray mixed =
        attend(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads), additiveMask);
    return mergeHeads(mixed); // (B, Nq, D)
  }

  /**
   * Attention over head-split tensors.
   *
   * @param qh (Bq, H, Nq, dh)
   * @param kh (Bk, H, Nk, dh)
   * @param vh (B, H, Nk, dh)
   * @param additiveMask null or broadcastable to (B, H, Nq, Nk)
   * @return (B, H, Nq, dh)
   */
  public static NDArray attend(NDArray qh, NDArray kh, NDArray vh, NDArray additiveMask) {
    return weights(qh, kh, additiveMask).matMul(vh); // (B, H, Nq, dh)
  }

  /**
   * The attention weights of {@link #attend}: each query's softmax over the keys.
   *
   * @param qh (Bq, H, Nq, dh)
   * @param kh (Bk, H, Nk, dh)
   * @param additiveMask null or broadcastable to (B, H, Nq, Nk)
   * @return (B, H, Nq, Nk), each row summing to 1
   */
  public static NDArray weights(NDArray qh, NDArray kh, NDArray additiveMask) {
    long dh = qh.getShape().get(3);
    NDArray scores = // (B, H, Nq, Nk)
        Scalars.timesInPlace(qh.matMul(kh.transpose(0, 1, 3, 2)), 1.0 / Math.sqrt(dh));
    if (additiveMask != null) {
      DataType type = scores.getDataType();
      scores =
          scores.addi(
              type == additiveMask.getDataType()
                  ? additiveMask
                  // a hidden key stays hidden in bf16/fp16 without -inf (a fully hidden padding
                  // row would give NaN, and NaN × 0 spreads through the values)
                  : additiveMask.maximum(HIDDEN_HALF).toType(type, false));
    }
    return scores.softmax(-1); // (B, H, Nq, Nk)
  }

  /** (B, H, N, dh) → (B, N, H·dh). */
  public static NDArray mergeHeads(NDArray x) {
    long b = x.getShape().get(0);
    long n = x.getShape().get(2);
    return x.transpose(0, 2, 1, 3).reshape(b, n, x.getShape().get(1) * x.getShape().get(3));
  }

  /** (B, N, D) → (B, H, N, D/H). */
  public static NDArray splitHeads(NDArray x, int heads) {
    long b = x.getShape().get(0);
    long n = x.getShape().get(1);
    return x.reshape(b, n, heads, x.getShape().get(2) / heads).transpose(0, 2, 1, 3);
  }
}
