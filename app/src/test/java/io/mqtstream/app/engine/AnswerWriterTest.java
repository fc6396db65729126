package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mqtstream.wire.Answer;
import io.mqtstream.wire.FrameHeaders;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;

/** The writer against Kafka's MockProducer: the acks are the broker's, completed by hand. */
class AnswerWriterTest {
  private final MockProducer<String, byte[]> producer =
      new MockProducer<>(false, null, new StringSerializer(), new ByteArraySerializer());
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final AnswerWriter writer =
      new AnswerWriter(producer, "answers", "mqt-tiny", meters, () -> 10_500L);
  private final AtomicInteger acks = new AtomicInteger();

  private AnswerWriter.Ticket ticket(int answers) {
    byte[] truth = "{\"q\":\"a\"}".getBytes(StandardCharsets.UTF_8);
    return AnswerWriter.Ticket.of(
        "cam-1",
        7,
        10_000L,
        Map.of(FrameHeaders.TRUTH, truth),
        16,
        4,
        answers,
        acks::incrementAndGet);
  }

  @Test
  void aFrameIsAckedOnlyWhenTheBrokerHasEveryAnswerAskedOfIt() {
    AnswerWriter.Ticket t = ticket(2);
    writer.write(t, "how many?", "2").subscribe();
    writer.write(t, "what colour?", "red").subscribe();
    assertThat(producer.history()).hasSize(2);
    assertThat(acks).hasValue(0); // sent, not yet acknowledged by the broker
    producer.completeNext();
    assertThat(acks).hasValue(0);
    producer.completeNext();
    assertThat(acks).hasValue(1);
    assertThat(meters.counter("mqt.engine.answers").count()).isEqualTo(2);
  }

  @Test
  void theRecordIsKeyedByCameraCarriesTheAnswerAndTheFramesHeaders() {
    StepVerifier.create(writer.write(ticket(1), "how many?", "2"))
        .then(producer::completeNext)
        .assertNext(
            a -> {
              assertThat(a.latencyMs()).isEqualTo(500);
              assertThat(a.m()).isEqualTo(16);
            })
        .verifyComplete();
    ProducerRecord<String, byte[]> sent = producer.history().get(0);
    assertThat(sent.topic()).isEqualTo("answers");
    assertThat(sent.key()).isEqualTo("cam-1");
    Answer read = Answer.fromJson(sent.value());
    assertThat(read.cameraId()).isEqualTo("cam-1");
    assertThat(read.frameSeq()).isEqualTo(7);
    assertThat(read.question()).isEqualTo("how many?");
    assertThat(read.answer()).isEqualTo("2");
    assertThat(read.frames()).isEqualTo(4);
    assertThat(read.model()).isEqualTo("mqt-tiny");
    assertThat(new String(sent.headers().lastHeader(FrameHeaders.TRUTH).value()))
        .isEqualTo("{\"q\":\"a\"}");
  }

  @Test
  void aFailedSendFailsTheAnswerAndLeavesTheFrameUnacked() {
    StepVerifier.create(writer.write(ticket(1), "how many?", "2"))
        .then(() -> producer.errorNext(new org.apache.kafka.common.errors.TimeoutException("down")))
        .expectErrorMessage("down")
        .verify();
    assertThat(acks).hasValue(0);
    assertThat(meters.counter("mqt.engine.answers").count()).isZero();
  }
}
