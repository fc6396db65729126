package io.mqtstream.ingest;

import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.FrameRecordSerde;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.BiFunction;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** Producing, reading and offset checks against an {@link EmbeddedKafka} in tests. */
final class KafkaTestSupport {
  private KafkaTestSupport() {}

  static FrameRecord frame(String camera, long seq) {
    byte[] payload = new byte[256];
    java.util.Arrays.fill(payload, (byte) seq);
    return new FrameRecord(camera, seq, seq * 1000, 64, 64, FrameRecord.Encoding.JPEG, payload);
  }

  /** Sends {@code perCamera} frames for each camera, keyed by camera id; optionally raw values. */
  static void produce(EmbeddedKafka kafka, String topic, int cameras, int perCamera) {
    produceRaw(
        kafka,
        topic,
        cameras,
        perCamera,
        (c, s) -> new FrameRecordSerde().write(frame("cam-" + c, s)));
  }

  static void produceRaw(
      EmbeddedKafka kafka,
      String topic,
      int cameras,
      int perCamera,
      BiFunction<Integer, Long, byte[]> value) {
    Properties p = new Properties();
    p.putAll(kafka.clientProperties());
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    try (KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
      for (long s = 0; s < perCamera; s++) {
        for (int c = 0; c < cameras; c++) {
          producer.send(new ProducerRecord<>(topic, ("cam-" + c).getBytes(), value.apply(c, s)));
        }
      }
      producer.flush();
    }
  }

  static List<ConsumerRecord<byte[], byte[]>> readAll(
      EmbeddedKafka kafka, String topic, int expected) {
    Properties p = new Properties();
    p.putAll(kafka.clientProperties());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime());
    List<ConsumerRecord<byte[], byte[]>> out = new java.util.ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> c =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (out.size() < expected && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(200)).forEach(out::add);
      }
    }
    return out;
  }

  /** Committed offsets of a group, by partition. */
  static Map<TopicPartition, Long> committed(EmbeddedKafka kafka, String group) throws Exception {
    try (Admin admin = kafka.admin()) {
      Map<TopicPartition, OffsetAndMetadata> m =
          admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      Map<TopicPartition, Long> out = new HashMap<>();
      m.forEach((tp, o) -> out.put(tp, o == null ? 0L : o.offset()));
      return out;
    }
  }

  /** Log-end offsets of a topic's partitions. */
  static Map<TopicPartition, Long> endOffsets(EmbeddedKafka kafka, String topic, int partitions)
      throws Exception {
    try (Admin admin = kafka.admin()) {
      Map<TopicPartition, OffsetSpec> req = new HashMap<>();
      for (int i = 0; i < partitions; i++) {
        req.put(new TopicPartition(topic, i), OffsetSpec.latest());
      }
      Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> r =
          admin.listOffsets(req).all().get();
      Map<TopicPartition, Long> out = new HashMap<>();
      r.forEach((tp, info) -> out.put(tp, info.offset()));
      return out;
    }
  }
}
