package io.mqtstream.wire;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Coverage-guided fuzzing of the frame reader (Jazzer): whatever bytes arrive, reading ends in a
 * frame or in a {@link FrameFormatException} that names the field, never in another exception, an
 * {@code Error} or an allocation the input does not pay for; a frame that reads writes back to the
 * same bytes (the format has one spelling per frame). Runs for its {@code maxDuration} in every
 * build; README gives the command for a long run.
 */
class FrameRecordFuzzTest {
  /** A small limit, so inputs that claim big payloads are checked against it cheaply. */
  private static final int MAX_PAYLOAD = 1 << 16;

  @FuzzTest(maxDuration = "20s")
  void readingAnyBytesEndsInAFrameOrAFormatErrorNamingTheField(byte[] data) {
    FrameRecordSerde serde = new FrameRecordSerde(MAX_PAYLOAD);
    FrameRecord frame;
    try {
      frame = serde.read(data);
    } catch (FrameFormatException e) {
      assertThat(e.field()).as("the field of %s", e.getMessage()).isNotBlank();
      return;
    }
    assertThat(frame.payload().length).isLessThanOrEqualTo(MAX_PAYLOAD);
    assertThat(serde.write(frame)).isEqualTo(data);
  }
}
