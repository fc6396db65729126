package io.mqtstream.ingest;

import io.mqtstream.wire.FrameRecord;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * A frame delivered by {@link KafkaFrameSource}: the decoded record, where it was read from, its
 * Kafka headers, and the handle that acknowledges it. The source commits a frame's offset only
 * after {@link #ack()} was called for it and for every earlier frame of its partition.
 *
 * <p>Under {@link Delivery#EXACTLY_ONCE} a stage hands the frame's outputs to {@link #ackWith}
 * instead of writing them itself: they are written in the transaction that commits the offset.
 */
public final class Frame {
  private final FrameRecord record;
  private final String topic;
  private final int partition;
  private final long offset;
  private final Map<String, byte[]> headers;
  private final Runnable onAck;
  private final Function<List<ProducerRecord<byte[], byte[]>>, CompletableFuture<Void>> onAckWith;
  private final AtomicBoolean acked = new AtomicBoolean();

  Frame(
      FrameRecord record,
      String topic,
      int partition,
      long offset,
      Map<String, byte[]> headers,
      Runnable onAck,
      Function<List<ProducerRecord<byte[], byte[]>>, CompletableFuture<Void>> onAckWith) {
    this.record = record;
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.headers = Map.copyOf(headers);
    this.onAck = onAck;
    this.onAckWith = onAckWith;
  }

  public FrameRecord record() {
    return record;
  }

  public String cameraId() {
    return record.cameraId();
  }

  public String topic() {
    return topic;
  }

  public int partition() {
    return partition;
  }

  public long offset() {
    return offset;
  }

  /** All Kafka headers of the record (the last value wins for repeated keys). */
  public Map<String, byte[]> headers() {
    return headers;
  }

  /** One header as UTF-8 text. */
  public Optional<String> header(String key) {
    byte[] v = headers.get(key);
    return v == null
        ? Optional.empty()
        : Optional.of(new String(v, java.nio.charset.StandardCharsets.UTF_8));
  }

  /** Marks the frame as fully processed. Idempotent and thread-safe. */
  public void ack() {
    if (acked.compareAndSet(false, true)) {
      onAck.run();
    }
  }

  /** True when the source delivers exactly-once: outputs then go through {@link #ackWith}. */
  public boolean exactlyOnce() {
    return onAckWith != null;
  }

  /**
   * Exactly-once delivery: marks the frame as fully processed and hands over the records it
   * produced (answers, a dead letter), written in the Kafka transaction that commits its offset.
   *
   * @return completes when that transaction committed; fails when it was aborted or the partition
   *     was revoked first: the frame is then read again (here or by the partition's next owner) and
   *     these records are never visible to {@code read_committed} readers
   * @throws IllegalStateException when the source delivers at-least-once
   */
  public CompletableFuture<Void> ackWith(List<ProducerRecord<byte[], byte[]>> outputs) {
    if (onAckWith == null) {
      throw new IllegalStateException("ackWith needs exactly-once delivery; write, then ack()");
    }
    if (!acked.compareAndSet(false, true)) {
      return CompletableFuture.failedFuture(
          new IllegalStateException(this + " acknowledged twice"));
    }
    return onAckWith.apply(List.copyOf(outputs));
  }

  @Override
  public String toString() {
    return "Frame["
        + record.cameraId()
        + "#"
        + record.sequence()
        + " @"
        + topic
        + "-"
        + partition
        + ":"
        + offset
        + "]";
  }
}
