package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;

/** Scaled dot-product attention split over heads; the one implementation the model uses. */
public final class Attention {
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
    long d = q.getShape().get(2);
    long dh = d / heads;
    NDArray qh = split(q, heads, dh); // (Bq, H, Nq, dh)
    NDArray kt = split(k, heads, dh).transpose(0, 1, 3, 2); // (Bk, H, dh, Nk)
    NDArray vh = split(v, heads, dh); // (B, H, Nk, dh)
    NDArray scores = qh.matMul(kt).muli(1.0 / Math.sqrt(dh)); // (B, H, Nq, Nk)
    if (additiveMask != null) {
      scores = scores.addi(additiveMask);
    }
    NDArray mixed = scores.softmax(-1).matMul(vh); // (B, H, Nq, dh)
    long b = mixed.getShape().get(0);
    long nq = mixed.getShape().get(2);
    return mixed.transpose(0, 2, 1, 3).reshape(b, nq, d); // (B, Nq, D)
  }

  /** (B, N, D) → (B, H, N, D/H). */
  private static NDArray split(NDArray x, int heads, long dh) {
    long b = x.getShape().get(0);
    long n = x.getShape().get(1);
    return x.reshape(b, n, heads, dh).transpose(0, 2, 1, 3);
  }
}
