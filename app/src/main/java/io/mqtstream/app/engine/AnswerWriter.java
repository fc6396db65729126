package io.mqtstream.app.engine;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.mqtstream.wire.Answer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import reactor.core.publisher.Mono;

/**
 * Writes answers to the {@code answers} topic (key = camera id, value = {@link Answer} JSON, the
 * frame's headers copied so its ground truth travels along) and acknowledges a frame once the
 * broker has every answer asked of it: a frame's offset becomes committable only then, so a crash
 * loses no answer (at-least-once). A failed send fails the returned {@code Mono} and leaves the
 * frame unacknowledged.
 */
final class AnswerWriter implements AutoCloseable {
  private final Producer<String, byte[]> producer;
  private final String topic;
  private final String model;
  private final LongSupplier clockMillis;
  private final Counter written;
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
   */
  record Ticket(
      String cameraId,
      long sequence,
      long captureMillis,
      Map<String, byte[]> headers,
      int m,
      int frames,
      AtomicInteger pending,
      Runnable ack) {
    static Ticket of(
        String cameraId,
        long sequence,
        long captureMillis,
        Map<String, byte[]> headers,
        int m,
        int frames,
        int answers,
        Runnable ack) {
      return new Ticket(
          cameraId, sequence, captureMillis, headers, m, frames, new AtomicInteger(answers), ack);
    }
  }

  /** Sends one answer; emits it once the broker has it (the frame acked if it was the last). */
  Mono<Answer> write(Ticket t, String question, String text) {
    long latencyMs = Math.max(0, clockMillis.getAsLong() - t.captureMillis());
    Answer answer =
        new Answer(
            t.cameraId(),
            t.sequence(),
            t.captureMillis(),
            question,
            text,
            t.m(),
            t.frames(),
            latencyMs,
            model);
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
              written.increment();
              latency.record(
                  Math.max(0, clockMillis.getAsLong() - t.captureMillis()), TimeUnit.MILLISECONDS);
              if (t.pending().decrementAndGet() == 0) {
                t.ack().run();
              }
            });
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(5));
  }
}
