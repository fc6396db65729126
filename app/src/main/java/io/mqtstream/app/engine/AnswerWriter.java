package io.mqtstream.app.engine;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.mqtstream.wire.Answer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * Writes answers to the {@code answers} topic (key = camera id, value = {@link Answer} JSON, the
 * frame's headers copied so its ground truth travels along) and acknowledges a frame once the
 * broker has every answer asked of it: a frame's offset becomes committable only then, so a crash
 * loses no answer (at-least-once). A failed send fails the returned {@code Mono} and leaves the
 * frame unacknowledged.
 *
 * <p>Exactly-once (a ticket with {@code ackWith}): a frame's answers are gathered and handed to the
 * frame source with the frame's acknowledgement, which writes them in the transaction that commits
 * the frame's offset; each answer's {@code Mono} emits when that transaction committed. An aborted
 * transaction is not an error here: the frame is read again and answered again, so the answers of
 * this time complete empty and are counted in {@code mqt.engine.answers.aborted}.
 */
final class AnswerWriter implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AnswerWriter.class);

  private final Producer<String, byte[]> producer;
  private final String topic;
  private final String model;
  private final LongSupplier clockMillis;
  private final Counter written;
  private final Counter aborted;
  private final Timer latency;

  /**
   * @param producer the answers producer (acks=all); closed with this writer
   * @param clockMillis wall-clock time, {@link System#currentTimeMillis} outside tests
   */
  AnswerWriter(
      Producer<String, byte[]> producer,
      String topic,
      String model,
      MeterRegistry meters,
      LongSupplier clockMillis) {
    this.producer = producer;
    this.topic = topic;
    this.model = model;
    this.clockMillis = clockMillis;
    this.written = meters.counter("mqt.engine.answers");
    this.aborted = meters.counter("mqt.engine.answers.aborted");
    this.latency =
        Timer.builder("mqt.engine.latency")
            .description("capture of a frame to its answer written")
            .publishPercentileHistogram()
            .publishPercentiles(0.5, 0.95, 0.99)
            .register(meters);
  }

  /**
   * One frame's share of the answers.
   *
   * @param cameraId the frame's camera
   * @param sequence the frame's sequence number
   * @param captureMillis the frame's capture time
   * @param headers the frame's headers, copied onto each answer
   * @param m visual tokens per frame in its prompts
   * @param frames frames in its prompts' window
   * @param answers answers asked of it
   * @param ack acknowledges the frame; run once, after the last answer is on the broker
   * @param ackWith exactly-once: acknowledges the frame with its answers, completing when they are
   *     committed ({@code Frame::ackWith}); null under at-least-once
   */
  record Ticket(
      String cameraId,
      long sequence,
      long captureMillis,
      Map<String, byte[]> headers,
      int m,
      int frames,
      AtomicInteger pending,
      Runnable ack,
      Function<List<ProducerRecord<byte[], byte[]>>, CompletableFuture<Void>> ackWith,
      List<ProducerRecord<byte[], byte[]>> gathered,
      CompletableFuture<Void> committed) {
    static Ticket of(
        String cameraId,
        long sequence,
        long captureMillis,
        Map<String, byte[]> headers,
        int m,
        int frames,
        int answers,
        Runnable ack,
        Function<List<ProducerRecord<byte[], byte[]>>, CompletableFuture<Void>> ackWith) {
      return new Ticket(
          cameraId,
          sequence,
          captureMillis,
          headers,
          m,
          frames,
          new AtomicInteger(answers),
          ack,
          ackWith,
          new ArrayList<>(answers),
          new CompletableFuture<>());
    }
  }

  /** Sends one answer; emits it once the broker has it (the frame acked if it was the last). */
  Mono<Answer> write(Ticket t, String question, String text) {
    return send(t, answer(t, question, text, false));
  }

  /**
   * Sends a question's skip for a frame the budget shed ({@link Answer#skipped()}: no text, m 0);
   * acknowledges the frame like an answer would. Not counted as an answer nor in the latency.
   */
  Mono<Answer> skip(Ticket t, String question) {
    return send(t, answer(t, question, null, true));
  }

  private Answer answer(Ticket t, String question, String text, boolean skipped) {
    long latencyMs = Math.max(0, clockMillis.getAsLong() - t.captureMillis());
    return new Answer(
        t.cameraId(),
        t.sequence(),
        t.captureMillis(),
        question,
        text,
        t.m(),
        t.frames(),
        latencyMs,
        model,
        skipped);
  }

  private Mono<Answer> send(Ticket t, Answer answer) {
    if (t.ackWith() != null) {
      return writeInTransaction(t, answer);
    }
    ProducerRecord<String, byte[]> record =
        new ProducerRecord<>(topic, null, t.cameraId(), answer.toJson());
    t.headers().forEach((k, v) -> record.headers().add(k, v));
    return Mono.<Answer>create(
            sink ->
                producer.send(
                    record,
                    (md, ex) -> {
                      if (ex != null) {
                        sink.error(ex);
                      } else {
                        sink.success(answer);
                      }
                    }))
        .doOnNext(
            a -> {
              counted(a, t);
              if (t.pending().decrementAndGet() == 0) {
                t.ack().run();
              }
            });
  }

  private void counted(Answer a, Ticket t) {
    if (!a.skipped()) {
      written.increment();
      latency.record(
          Math.max(0, clockMillis.getAsLong() - t.captureMillis()), TimeUnit.MILLISECONDS);
    }
  }

  private Mono<Answer> writeInTransaction(Ticket t, Answer answer) {
    ProducerRecord<byte[], byte[]> record =
        new ProducerRecord<>(
            topic, null, t.cameraId().getBytes(StandardCharsets.UTF_8), answer.toJson());
    t.headers().forEach((k, v) -> record.headers().add(k, v));
    boolean last;
    synchronized (t.gathered()) {
      t.gathered().add(record);
      last = t.pending().decrementAndGet() == 0;
    }
    if (last) {
      List<ProducerRecord<byte[], byte[]>> all;
      synchronized (t.gathered()) {
        all = List.copyOf(t.gathered());
      }
      t.ackWith()
          .apply(all)
          .whenComplete(
              (ok, e) -> {
                if (e == null) {
                  t.committed().complete(null);
                } else {
                  t.committed().completeExceptionally(e);
                }
              });
    }
    return Mono.fromFuture(t.committed(), true)
        .thenReturn(answer)
        .doOnNext(a -> counted(a, t))
        .onErrorResume(
            e -> {
              aborted.increment();
              log.debug(
                  "answer of {}#{} not committed: {}", t.cameraId(), t.sequence(), e.toString());
              return Mono.empty(); // the frame is read and answered again
            });
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(5));
  }
}
