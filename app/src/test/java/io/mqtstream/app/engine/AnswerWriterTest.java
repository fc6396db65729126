package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mqtstream.wire.Answer;
import io.mqtstream.wire.FrameHeaders;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
        acks::incrementAndGet,
        null);
  }

  /** An exactly-once ticket whose frame source is played by hand: the transaction's outcome. */
  private final List<List<ProducerRecord<byte[], byte[]>>> handedOver = new ArrayList<>();

  private final CompletableFuture<Void> transaction = new CompletableFuture<>();

  private AnswerWriter.Ticket transactionalTicket(int answers) {
    return AnswerWriter.Ticket.of(
        "cam-1",
        7,
        10_000L,
        Map.of(),
        16,
        4,
        answers,
        acks::incrementAndGet,
        records -> {
          handedOver.add(records);
          return transaction;
        });
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
  void aShedFramesSkipsAckItLikeAnswersButAreNotCountedAsAnswers() {
    AnswerWriter.Ticket t = ticket(2);
    writer.skip(t, "how many?").subscribe();
    writer.skip(t, "what colour?").subscribe();
    producer.completeNext();
    producer.completeNext();
    assertThat(acks).hasValue(1);
    List<Answer> sent = producer.history().stream().map(r -> Answer.fromJson(r.value())).toList();
    assertThat(sent).allMatch(Answer::skipped).allMatch(a -> a.answer() == null);
    assertThat(sent).extracting(Answer::question).containsExactly("how many?", "what colour?");
    assertThat(producer.history().get(0).headers().lastHeader(FrameHeaders.TRUTH)).isNotNull();
    assertThat(meters.counter("mqt.engine.answers").count()).isZero();
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

  @Test
  void exactlyOnceHandsAFramesAnswersOverTogetherAndEmitsThemWhenTheTransactionCommits() {
    AnswerWriter.Ticket t = transactionalTicket(2);
    List<Answer> emitted = new ArrayList<>();
    writer.write(t, "how many?", "2").subscribe(emitted::add);
    assertThat(handedOver).as("not before the frame's last answer").isEmpty();
    writer.write(t, "what colour?", "red").subscribe(emitted::add);
    assertThat(handedOver).hasSize(1);
    assertThat(handedOver.get(0))
        .extracting(r -> Answer.fromJson(r.value()).question())
        .containsExactly("how many?", "what colour?");
    assertThat(new String(handedOver.get(0).get(0).key(), StandardCharsets.UTF_8))
        .isEqualTo("cam-1");
    assertThat(producer.history()).as("the writer's own producer is not used").isEmpty();
    assertThat(emitted).as("nothing is visible before the commit").isEmpty();
    transaction.complete(null);
    assertThat(emitted).extracting(Answer::answer).containsExactlyInAnyOrder("2", "red");
    assertThat(meters.counter("mqt.engine.answers").count()).isEqualTo(2);
    assertThat(acks).as("ackWith, not ack").hasValue(0);
  }

  @Test
  void anAbortedTransactionCompletesTheAnswersEmptyAndCountsThem() {
    AnswerWriter.Ticket t = transactionalTicket(1);
    StepVerifier.create(writer.write(t, "how many?", "2"))
        .then(() -> transaction.completeExceptionally(new IllegalStateException("aborted")))
        .verifyComplete();
    assertThat(meters.counter("mqt.engine.answers").count()).isZero();
    assertThat(meters.counter("mqt.engine.answers.aborted").count()).isEqualTo(1);
  }
}
