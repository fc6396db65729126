package io.mqtstream.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.wire.Answer;
import io.mqtstream.wire.FrameHeaders;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.FrameRecordSerde;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The harness against a real broker and a stand-in engine whose behaviour is known: it answers only
 * even frames, truthfully for camera 0 and wrongly for camera 1. The harness must count exactly the
 * odd frames as lost and exactly half the answers as correct.
 */
@Tag("kafka")
class HarnessTest {
  private static final String QUESTION = "how many shapes are there?";

  @Test
  void lossAndAccuracyAccountingMatchesAKnownStandIn() throws Exception {
    try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
      kafka.createTopic("frames", 2);
      kafka.createTopic("answers", 1);
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong even = new AtomicLong();
      AtomicLong odd = new AtomicLong();
      Thread standIn = new Thread(() -> answerEvenFrames(kafka, stop, even, odd));
      standIn.start();
      Harness.Options o =
          new Harness.Options(
              2,
              5,
              Duration.ofSeconds(3),
              Harness.Profile.CONSTANT,
              "cam-",
              Harness.Options.synthetic(),
              "frames",
              "answers",
              null,
              Duration.ofSeconds(3),
              Duration.ZERO);
      Ledger ledger = new Harness(kafka.clientProperties(), o, r -> {}, p -> {}).run();
      stop.set(true);
      standIn.join();

      Ledger.Summary s = ledger.summary();
      assertThat(s.framesSent()).isEqualTo(even.get() + odd.get()).isGreaterThanOrEqualTo(20);
      assertThat(s.lost()).isEqualTo(odd.get());
      assertThat(s.answers()).isEqualTo(even.get());
      assertThat(s.unexpected()).isZero();
      assertThat(s.scored()).isEqualTo(even.get());
      // cam-0's answers are all right, cam-1's all wrong
      assertThat(s.accuracy()).isEqualTo((double) ledger.answeredFrames("cam-0") / even.get());
      assertThat(ledger.answeredFrames("cam-0")).isPositive();
      assertThat(ledger.answeredFrames("cam-1")).isPositive();
    }
  }

  private static void answerEvenFrames(
      EmbeddedKafka kafka, AtomicBoolean stop, AtomicLong even, AtomicLong odd) {
    Map<String, Object> c = new HashMap<>(kafka.clientProperties());
    c.put("group.id", "stand-in");
    c.put("auto.offset.reset", "earliest");
    FrameRecordSerde serde = new FrameRecordSerde();
    ObjectMapper json = new ObjectMapper();
    try (KafkaConsumer<String, byte[]> consumer =
            new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
        KafkaProducer<String, byte[]> producer =
            new KafkaProducer<>(
                kafka.clientProperties(), new StringSerializer(), new ByteArraySerializer())) {
      consumer.subscribe(List.of("frames"));
      while (!stop.get()) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
          FrameRecord f = serde.read(r.value());
          if (f.sequence() % 2 == 1) {
            odd.incrementAndGet();
            continue;
          }
          even.incrementAndGet();
          Map<String, String> truth =
              json.readValue(
                  r.headers().lastHeader(FrameHeaders.TRUTH).value(),
                  new TypeReference<Map<String, String>>() {});
          String right = truth.get(QUESTION);
          String text = f.cameraId().equals("cam-0") ? right : "not " + right;
          Answer a =
              new Answer(
                  f.cameraId(),
                  f.sequence(),
                  f.captureMicros() / 1000,
                  QUESTION,
                  text,
                  8,
                  1,
                  0,
                  "stand-in");
          ProducerRecord<String, byte[]> out =
              new ProducerRecord<>("answers", f.cameraId(), a.toJson());
          out.headers().add(FrameHeaders.TRUTH, r.headers().lastHeader(FrameHeaders.TRUTH).value());
          producer.send(out);
        }
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
