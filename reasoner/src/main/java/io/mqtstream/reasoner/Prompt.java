package io.mqtstream.reasoner;

import io.mqtstream.encoder.VisualTokens;
import java.util.List;

/**
 * One question about a window of frames: the frames' visual tokens (each already cut to its m;
 * prompts of one batch may differ in m and in the number of frames T), the question's token ids,
 * how to sample, and an opaque context the caller gets back with the completion.
 */
public record Prompt(
    String id,
    List<VisualTokens> frames,
    long[] questionIds,
    Sampling sampling,
    Object context,
    int separators) {

  /** A prompt of this project's frames-first format: the frames, one separator, the question. */
  public Prompt(
      String id, List<VisualTokens> frames, long[] questionIds, Sampling sampling, Object context) {
    this(id, frames, questionIds, sampling, context, 1);
  }

  public Prompt {
    if (frames.isEmpty()) {
      throw new IllegalArgumentException("prompt " + id + ": needs at least one frame");
    }
    frames = List.copyOf(frames);
  }

  /**
   * Length of the prompt in positions: Σ m over frames, the separators (1 in this project's format
   * with the frames first, 2 with the question first, 0 in LLaVA's), the text's ids.
   */
  public int length() {
    return frames.stream().mapToInt(VisualTokens::count).sum() + separators + questionIds.length;
  }

  /** Visual tokens per frame of the first frame (all frames of a prompt share m). */
  public int m() {
    return frames.get(0).count();
  }
}
