package io.mqtstream.ingest;

import io.mqtstream.wire.FrameRecord;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A frame delivered by {@link KafkaFrameSource}: the decoded record, where it was read from, its
 * Kafka headers, and the handle that acknowledges it. The source commits a frame's offset only
 * after {@link #ack()} was called for it and for every earlier frame of its partition.
 */
public final class Frame {
  private final FrameRecord record;
  private final String topic;
  private final int partition;
  private final long offset;
  private final Map<String, byte[]> headers;
  private final Runnable onAck;
  private final AtomicBoolean acked = new AtomicBoolean();

  Frame(
      FrameRecord record,
      String topic,
      int partition,
      long offset,
      Map<String, byte[]> headers,
      Runnable onAck) {
    this.record = record;
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.headers = Map.copyOf(headers);
    this.onAck = onAck;
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
