package io.mqtstream.reasoner;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * Keys and values of every layer for the positions seen so far, (B, Hkv, S, dh) each, and which of
 * the S slots are padding in each row (rows are left-padded to a common length). Handed back to
 * {@link DecoderLm#forward} to extend a sequence.
 */
public record KvCache(List<NDArray> keys, List<NDArray> values, float[][] padMask) {

  /** Slots per row, S. */
  int slots() {
    return padMask.length == 0 ? 0 : padMask[0].length;
  }

  void close() {
    keys.forEach(NDArray::close);
    values.forEach(NDArray::close);
  }
}
