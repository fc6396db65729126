package io.mqtstream.app.engine;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.mqtstream.encoder.FrameDecodeException;
import io.mqtstream.ingest.DeadLetterPublisher;
import io.mqtstream.ingest.Frame;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.FrameRecordSerde;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;

/**
 * Decodes a frame's picture on a bounded scheduler. A picture that does not decode goes to the
 * dead-letter topic with the reason, and the frame is acknowledged once the broker has it: nothing
 * is lost and the stream goes on (the frame then yields nothing downstream).
 */
final class FrameDecoder {
  private static final Logger log = LoggerFactory.getLogger(FrameDecoder.class);

  /** A frame and its picture as the encoder takes it. */
  record Decoded(Frame frame, byte[] pixels) {}

  private final Function<FrameRecord, byte[]> pixels;
  private final DeadLetterPublisher deadLetters;
  private final Scheduler scheduler;
  private final Counter deadLettered;

  /**
   * @param pixels the decoding, throwing {@link FrameDecodeException} on a bad picture
   */
  FrameDecoder(
      Function<FrameRecord, byte[]> pixels,
      DeadLetterPublisher deadLetters,
      Scheduler scheduler,
      MeterRegistry meters) {
    this.pixels = pixels;
    this.deadLetters = deadLetters;
    this.scheduler = scheduler;
    this.deadLettered = meters.counter("mqt.dlq", "stage", "decode");
  }

  Mono<Decoded> decode(Frame frame) {
    // A bad picture is a value here, not an error signal: the dead letter is then sent by a
    // subscriber of this task's result, never from the task's own error path (where a cancel of
    // the task could interrupt the producer's send).
    return Mono.fromCallable(() -> attempt(frame))
        .subscribeOn(scheduler)
        .flatMap(
            attempt ->
                attempt.failure() == null
                    ? Mono.just(new Decoded(frame, attempt.pixels()))
                    : deadLetter(frame, attempt.failure()));
  }

  private record Attempt(byte[] pixels, FrameDecodeException failure) {}

  private Attempt attempt(Frame frame) {
    try {
      return new Attempt(pixels.apply(frame.record()), null);
    } catch (FrameDecodeException e) {
      return new Attempt(null, e);
    }
  }

  private Mono<Decoded> deadLetter(Frame frame, FrameDecodeException error) {
    log.warn("frame {} to {}: {}", frame, deadLetters.topic(), error.getMessage());
    List<Header> headers = new ArrayList<>();
    frame.headers().forEach((k, v) -> headers.add(new RecordHeader(k, v)));
    byte[] value = new FrameRecordSerde().write(frame.record());
    if (frame.exactlyOnce()) { // in the transaction that commits the frame's offset
      ProducerRecord<byte[], byte[]> letter =
          deadLetters.record(
              frame.cameraId().getBytes(StandardCharsets.UTF_8),
              value,
              headers,
              new DeadLetterPublisher.SourcePosition(
                  frame.topic(), frame.partition(), frame.offset()),
              error);
      return Mono.fromFuture(() -> frame.ackWith(List.of(letter)), true)
          .doOnSuccess(ok -> deadLettered.increment())
          .onErrorResume(e -> Mono.empty()) // aborted: the frame is read again
          .then(Mono.empty());
    }
    return Mono.fromFuture(
            () ->
                deadLetters.publish(
                    frame.cameraId().getBytes(StandardCharsets.UTF_8),
                    value,
                    headers,
                    new DeadLetterPublisher.SourcePosition(
                        frame.topic(), frame.partition(), frame.offset()),
                    error))
        .doOnNext(
            md -> {
              deadLettered.increment();
              frame.ack();
            })
        .then(Mono.empty());
  }
}
