package io.mqtstream.reasoner;

import java.util.List;

/**
 * A prompt's answer.
 *
 * @param prompt the prompt it answers
 * @param text the decoded answer, special tokens left out
 * @param tokens the generated ids (the stop token excluded)
 * @param promptTokens positions the prompt took
 * @param finish why generation ended
 * @param stepLogits each step's logits when {@link Sampling#keepLogits()}, else empty
 */
public record Completion(
    Prompt prompt,
    String text,
    long[] tokens,
    int promptTokens,
    Finish finish,
    List<float[]> stepLogits) {

  /** Why generation ended. */
  public enum Finish {
    STOP,
    LENGTH
  }
}
