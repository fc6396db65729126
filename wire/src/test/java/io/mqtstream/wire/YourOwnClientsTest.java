package io.mqtstream.wire;

import static org.assertj.core.api.Assertions.assertThat;

import io.mqtstream.embedded.EmbeddedKafka;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * README's "Your own producers and consumers": the two snippets, verbatim in {@link #sendFrame} and
 * {@link #readAnswers}, run against a real broker with nothing but this module and kafka-clients.
 */
@Tag("kafka")
class YourOwnClientsTest {

  // README snippet: a camera of yours sends a frame
  static void sendFrame(String bootstrap, BufferedImage picture, long seq) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    try (var producer =
        new KafkaProducer<String, FrameRecord>(p, new StringSerializer(), new FrameRecordSerde())) {
      FrameRecord frame =
          new FrameRecord(
              "dock-3", // camera id, also the record key (keeps a camera in one partition)
              seq, // increasing per camera
              System.currentTimeMillis() * 1000, // capture time, epoch µs
              picture.getWidth(),
              picture.getHeight(),
              FrameRecord.Encoding.JPEG,
              new JpegEncoder(0.85f).encode(picture));
      ProducerRecord<String, FrameRecord> record = new ProducerRecord<>("frames", "dock-3", frame);
      record.headers().add(FrameHeaders.SCENE_START, "true".getBytes()); // optional: a new scene
      producer.send(record);
    }
  }

  // README snippet: read the answers
  static List<Answer> readAnswers(String bootstrap, Duration forHowLong) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "my-dashboard");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    List<Answer> answers = new ArrayList<>();
    try (var consumer =
        new KafkaConsumer<String, byte[]>(
            p, new StringDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of("answers"));
      long end = System.nanoTime() + forHowLong.toNanos();
      while (System.nanoTime() < end) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          Answer a = Answer.fromJson(r.value()); // key = camera id
          answers.add(a); // a.question(), a.answer(), a.m(), a.latencyMs(), …
        }
      }
    }
    return answers;
  }

  @Test
  void theReadmeProducerAndConsumerWorkAgainstABroker() throws Exception {
    try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
      kafka.createTopic("frames", 1);
      kafka.createTopic("answers", 1);
      BufferedImage picture = new BufferedImage(32, 24, BufferedImage.TYPE_3BYTE_BGR);
      sendFrame(kafka.bootstrapServers(), picture, 41);

      // what the engine sees: the frame, byte for byte in the documented format
      Properties c = new Properties();
      c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
      c.put(ConsumerConfig.GROUP_ID_CONFIG, "check");
      c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
      FrameRecord read = null;
      try (var consumer =
          new KafkaConsumer<String, FrameRecord>(
              c, new StringDeserializer(), new FrameRecordSerde())) {
        consumer.subscribe(List.of("frames"));
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (read == null && System.nanoTime() < end) {
          for (var r : consumer.poll(Duration.ofMillis(200))) {
            read = r.value();
            assertThat(r.key()).isEqualTo("dock-3");
            assertThat(new String(r.headers().lastHeader(FrameHeaders.SCENE_START).value()))
                .isEqualTo("true");
          }
        }
      }
      assertThat(read).isNotNull();
      assertThat(read.sequence()).isEqualTo(41);
      assertThat(read.width()).isEqualTo(32);
      assertThat(read.height()).isEqualTo(24);

      // what the engine writes back, read with the README consumer
      Answer written =
          new Answer("dock-3", 41, 1_700_000_000_000L, "is the door open?", "no", 16, 4, 230, "m");
      Properties p = new Properties();
      p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
      try (var producer =
          new KafkaProducer<String, byte[]>(p, new StringSerializer(), new ByteArraySerializer())) {
        producer.send(new ProducerRecord<>("answers", "dock-3", written.toJson())).get();
      }
      assertThat(readAnswers(kafka.bootstrapServers(), Duration.ofSeconds(3)))
          .containsExactly(written);
    }
  }
}
