package io.mqtstream.ingest;

import io.mqtstream.wire.FrameFormatException;
import io.mqtstream.wire.FrameHeaders;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Sends records the engine could not use to the dead-letter topic, byte for byte, with headers that
 * say why and where they came from, so nothing is lost and the stream goes on.
 *
 * <p>Headers added: the {@link FrameHeaders} {@code DLQ_*} names (reason, error, field for format
 * errors, source topic, partition and offset); the record's own headers are kept.
 */
public final class DeadLetterPublisher implements AutoCloseable {

  private final String topic;
  private final KafkaProducer<byte[], byte[]> producer;

  /**
   * @param clientProperties bootstrap servers and any client properties (security etc.)
   * @param topic the dead-letter topic, e.g. {@code frames.dlq}
   */
  public DeadLetterPublisher(Map<String, Object> clientProperties, String topic) {
    Properties props = new Properties();
    props.putAll(clientProperties);
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.CLIENT_ID_CONFIG, "mqt-dlq-" + topic);
    this.topic = topic;
    this.producer =
        new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
  }

  public String topic() {
    return topic;
  }

  /**
   * Loads the topic's metadata now, so that a first dead letter does not wait for it on the thread
   * that found the bad record.
   */
  public void awaitReady() {
    producer.partitionsFor(topic);
  }

  /**
   * Publishes the raw record with the reason; completes when the broker acknowledged it.
   *
   * @param key the original key bytes (may be null)
   * @param value the original value bytes (may be null)
   * @param headers the original headers (kept)
   * @param source where the record was read
   * @param error why it was rejected
   */
  public CompletableFuture<RecordMetadata> publish(
      byte[] key, byte[] value, Iterable<Header> headers, SourcePosition source, Throwable error) {
    CompletableFuture<RecordMetadata> done = new CompletableFuture<>();
    try {
      producer.send(
          record(key, value, headers, source, error),
          (metadata, e) -> {
            if (e != null) {
              done.completeExceptionally(e);
            } else {
              done.complete(metadata);
            }
          });
    } catch (RuntimeException e) { // e.g. metadata not available in time: a failed publish, too
      done.completeExceptionally(e);
    }
    return done;
  }

  /**
   * The dead letter {@link #publish} sends, for a caller that writes it itself (exactly-once: in
   * the transaction that commits the bad record's offset, see {@link Frame#ackWith}).
   */
  public ProducerRecord<byte[], byte[]> record(
      byte[] key, byte[] value, Iterable<Header> headers, SourcePosition source, Throwable error) {
    RecordHeaders out = new RecordHeaders(headers);
    put(out, FrameHeaders.DLQ_REASON, reason(error));
    put(out, FrameHeaders.DLQ_ERROR, error.getClass().getName());
    if (error instanceof FrameFormatException f) {
      put(out, FrameHeaders.DLQ_FIELD, f.field());
    }
    put(out, FrameHeaders.DLQ_SOURCE_TOPIC, source.topic());
    put(out, FrameHeaders.DLQ_SOURCE_PARTITION, Integer.toString(source.partition()));
    put(out, FrameHeaders.DLQ_SOURCE_OFFSET, Long.toString(source.offset()));
    return new ProducerRecord<>(topic, null, key, value, out);
  }

  private static String reason(Throwable error) {
    String m = error.getMessage();
    return m == null || m.isBlank() ? error.getClass().getSimpleName() : m;
  }

  private static void put(RecordHeaders headers, String key, String value) {
    headers.remove(key);
    headers.add(key, value.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    producer.close();
  }

  /** Where a record was read: topic, partition and offset. */
  public record SourcePosition(String topic, int partition, long offset) {}
}
