package io.mqtstream.wire;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;

/**
 * One answer on the {@code answers} topic (key = camera id, value = this record as JSON): the
 * engine's output contract, read by users and by the load-test harness.
 *
 * @param cameraId the camera
 * @param frameSeq the sequence number of the window's last frame
 * @param frameTs that frame's capture time, epoch milliseconds
 * @param question the standing question
 * @param answer the model's answer
 * @param m visual tokens per frame the answer was computed with
 * @param frames frames in the window (T)
 * @param latencyMs capture of the frame to the answer being written, milliseconds
 * @param model the model's name
 * @param skipped true when the engine shed this frame's questions under load instead of answering
 *     them ({@code budget.maxStride}): {@code answer} is null and {@code m} 0. Skipped frames are
 *     reported this way, never dropped silently.
 */
public record Answer(
    String cameraId,
    long frameSeq,
    long frameTs,
    String question,
    String answer,
    int m,
    int frames,
    long latencyMs,
    String model,
    boolean skipped) {

  /** An answer the model gave. */
  public Answer(
      String cameraId,
      long frameSeq,
      long frameTs,
      String question,
      String answer,
      int m,
      int frames,
      long latencyMs,
      String model) {
    this(cameraId, frameSeq, frameTs, question, answer, m, frames, latencyMs, model, false);
  }

  private static final ObjectMapper JSON =
      new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  public byte[] toJson() {
    try {
      return JSON.writeValueAsBytes(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Parses an answer; unknown fields are ignored so newer engines stay readable. */
  public static Answer fromJson(byte[] json) {
    try {
      return JSON.readValue(json, Answer.class);
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException(
          "not an answer: " + new String(json, StandardCharsets.UTF_8), e);
    }
  }
}
