package io.mqtstream.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class AnswerTest {

  @Test
  void aSkippedFrameTravelsAsAnAnswerWithoutText() {
    Answer shed =
        new Answer(
            "dock-3", 42, 1_700_000_000_000L, "is the door open?", null, 0, 4, 310, "m", true);
    String json = new String(shed.toJson(), StandardCharsets.UTF_8);
    assertThat(json).contains("\"skipped\":true").contains("\"answer\":null");
    assertThat(Answer.fromJson(shed.toJson())).isEqualTo(shed);
  }

  @Test
  void anAnswerWrittenBeforeSkippingExistedReadsAsNotSkipped() {
    String older =
        "{\"cameraId\":\"dock-3\",\"frameSeq\":41,\"frameTs\":1700000000000,\"question\":\"q\","
            + "\"answer\":\"no\",\"m\":16,\"frames\":4,\"latencyMs\":230,\"model\":\"m\"}";
    Answer a = Answer.fromJson(older.getBytes(StandardCharsets.UTF_8));
    assertThat(a.skipped()).isFalse();
    assertThat(a.answer()).isEqualTo("no");
    assertThat(a.m()).isEqualTo(16);
  }
}
