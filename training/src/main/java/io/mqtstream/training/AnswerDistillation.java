package io.mqtstream.training;

import ai.djl.ndarray.NDArray;
import io.mqtstream.nn.Scalars;

/**
 * The distillation loss of {@code distillWeight}: the answers at a drawn m learn the same model's
 * answer distribution at m = M, as slimmable networks' in-place distillation trains narrow widths
 * from the full one. A small budget then learns what the full one would say (how sure, and what
 * else it would consider), not only the right token. Its minimum over the student's logits is the
 * teacher's distribution itself.
 */
final class AnswerDistillation {
  private AnswerDistillation() {}

  /**
   * The teacher: the answer distribution from logits at m = M, cut from the graph.
   *
   * @param logits (N, V) at the N answer tokens
   * @return (N, V) probabilities
   */
  static NDArray teacher(NDArray logits) {
    return logits.softmax(1).stopGradient();
  }

  /**
   * The mean over answer tokens of the cross-entropy of the student's answers against the teacher's
   * (KL plus the teacher's entropy, which has no gradient).
   *
   * @param student (N, V) logits at m
   * @param teacher (N, V) from {@link #teacher}
   * @return a scalar
   */
  static NDArray loss(NDArray student, NDArray teacher) {
    return Scalars.over(student.logSoftmax(1).mul(teacher).sum().neg(), student.getShape().get(0));
  }
}
