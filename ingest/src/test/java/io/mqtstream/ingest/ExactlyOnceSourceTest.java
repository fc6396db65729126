package io.mqtstream.ingest;

import static io.mqtstream.ingest.KafkaTestSupport.committed;
import static io.mqtstream.ingest.KafkaTestSupport.endOffsets;
import static io.mqtstream.ingest.KafkaTestSupport.produce;
import static io.mqtstream.ingest.KafkaTestSupport.produceRaw;
import static org.assertj.core.api.Assertions.assertThat;

import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.wire.FrameHeaders;
import io.mqtstream.wire.FrameRecordSerde;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.BaseSubscriber;

/**
 * {@link KafkaFrameSource} under {@link Delivery#EXACTLY_ONCE} against a real broker: a frame's
 * outputs and its offset commit together, so a {@code read_committed} reader of the outputs sees
 * each frame's exactly once across a hand-over, an aborted transaction, and dead letters.
 */
@Tag("kafka")
class ExactlyOnceSourceTest {
  private static EmbeddedKafka kafka;

  @BeforeAll
  static void startBroker() {
    kafka = EmbeddedKafka.start();
  }

  @AfterAll
  static void stopBroker() {
    kafka.close();
  }

  private static FrameSourceConfig config(String topic, String group) {
    return FrameSourceConfig.defaults(topic, group)
        .withMaxInFlight(128, 16)
        .withDelivery(Delivery.EXACTLY_ONCE);
  }

  private static ProducerRecord<byte[], byte[]> output(String topic, Frame f, int size) {
    byte[] value = new byte[size];
    byte[] id = id(f).getBytes(StandardCharsets.UTF_8);
    System.arraycopy(id, 0, value, 0, Math.min(id.length, size));
    return new ProducerRecord<>(topic, id, size == id.length ? id : value);
  }

  private static String id(Frame f) {
    return f.cameraId() + "/" + f.record().sequence();
  }

  @Test
  void outputsOfFramesWhoseOffsetsWereNotCommittedAreNeverWritten() throws Exception {
    String topic = "eos-handover";
    String out = "eos-handover.out";
    kafka.createTopic(topic, 2);
    kafka.createTopic(topic + ".dlq", 1);
    kafka.createTopic(out, 1);
    int cameras = 8; // keyed by camera: some land on each partition
    int perCamera = 25;
    produce(kafka, topic, cameras, perCamera);
    FrameSourceConfig cfg = config(topic, "g-eos-handover");

    // First owner: takes 100 frames and acknowledges all but the first with outputs, in reverse
    // order; then it goes away. Frames behind the held one in its partition are done but not
    // committable: their outputs must never appear.
    List<Frame> firstRun = new CopyOnWriteArrayList<>();
    CountDownLatch gotHundred = new CountDownLatch(100);
    Map<Frame, CompletableFuture<Void>> outcomes = new HashMap<>();
    try (KafkaFrameSource first = new KafkaFrameSource(cfg, kafka.clientProperties())) {
      BaseSubscriber<Frame> subscriber =
          new BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(org.reactivestreams.Subscription s) {
              s.request(100);
            }

            @Override
            protected void hookOnNext(Frame f) {
              firstRun.add(f);
              gotHundred.countDown();
            }
          };
      first.frames().subscribe(subscriber);
      assertThat(gotHundred.await(60, TimeUnit.SECONDS)).isTrue();
      Frame held = firstRun.get(0);
      List<Frame> reversed = new ArrayList<>(firstRun.subList(1, firstRun.size()));
      Collections.reverse(reversed);
      for (Frame f : reversed) {
        outcomes.put(f, f.ackWith(List.of(output(out, f, id(f).length()))));
      }
      for (Map.Entry<Frame, CompletableFuture<Void>> e : outcomes.entrySet()) {
        if (e.getKey().partition() != held.partition()) {
          e.getValue().get(30, TimeUnit.SECONDS); // committed with its offset
        }
      }
      subscriber.dispose(); // gone without acknowledging the held frame
      first.close();
      for (Map.Entry<Frame, CompletableFuture<Void>> e : outcomes.entrySet()) {
        if (e.getKey().partition() == held.partition()) {
          assertThat(e.getValue()).as("behind an unacknowledged frame").isCompletedExceptionally();
        }
      }
    }

    // Second owner: the rest, and the held partition again from its committed offset.
    Set<String> seen = ConcurrentHashMap.newKeySet();
    CountDownLatch all = new CountDownLatch(1);
    try (KafkaFrameSource second = new KafkaFrameSource(cfg, kafka.clientProperties())) {
      Disposable d =
          second
              .frames()
              .subscribe(
                  f ->
                      f.ackWith(List.of(output(out, f, id(f).length())))
                          .thenRun(
                              () -> {
                                seen.add(id(f));
                                if (seen.size() + committedFirst(outcomes) == cameras * perCamera) {
                                  all.countDown();
                                }
                              }));
      assertThat(all.await(60, TimeUnit.SECONDS)).as("every frame done").isTrue();
      second.stop();
      second.close();
      d.dispose();
    }

    List<String> written = readCommitted(out);
    assertThat(written).hasSize(cameras * perCamera).doesNotHaveDuplicates();
    Map<TopicPartition, Long> ends = endOffsets(kafka, topic, 2);
    assertThat(ends.values()).as("both partitions in play").allMatch(end -> end > 0);
    assertThat(committed(kafka, "g-eos-handover")).isEqualTo(ends);
  }

  private static long committedFirst(Map<Frame, CompletableFuture<Void>> outcomes) {
    return outcomes.values().stream()
        .filter(f -> f.isDone() && !f.isCompletedExceptionally())
        .count();
  }

  @Test
  void anAbortedTransactionRewindsItsPartitionsAndTheFramesComeAgain() throws Exception {
    String topic = "eos-abort";
    String out = "eos-abort.out";
    kafka.createTopic(topic, 1);
    kafka.createTopic(topic + ".dlq", 1);
    kafka.createTopic(out, 1);
    int frames = 40;
    produce(kafka, topic, 1, frames);
    Map<String, Integer> deliveries = new ConcurrentHashMap<>();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    Set<String> done = ConcurrentHashMap.newKeySet();
    CountDownLatch all = new CountDownLatch(1);
    try (KafkaFrameSource source =
        new KafkaFrameSource(config(topic, "g-eos-abort"), kafka.clientProperties())) {
      Disposable d =
          source
              .frames()
              .subscribe(
                  f -> {
                    int n = deliveries.merge(id(f), 1, Integer::sum);
                    // Frame 5's first output is larger than a request may be: its transaction
                    // fails, aborts, and every frame in it is read again.
                    int size = f.record().sequence() == 5 && n == 1 ? 2_000_000 : id(f).length();
                    f.ackWith(List.of(output(out, f, size)))
                        .whenComplete(
                            (ok, err) -> {
                              if (err != null) {
                                failures.add(err);
                              } else if (done.add(id(f)) && done.size() == frames) {
                                all.countDown();
                              }
                            });
                  });
      assertThat(all.await(60, TimeUnit.SECONDS)).as("every frame done").isTrue();
      source.stop();
      source.close();
      d.dispose();
    }
    assertThat(deliveries.get("cam-0/5")).as("frame 5 came again").isGreaterThanOrEqualTo(2);
    assertThat(failures).as("the aborted transaction's outputs learn it").isNotEmpty();
    List<String> written = readCommitted(out);
    assertThat(written).hasSize(frames).doesNotHaveDuplicates();
    assertThat(written).allMatch(v -> v.startsWith("cam-0/") && v.length() < 100);
  }

  @Test
  void deadLettersAreWrittenInTheTransactionOfTheirOffsets() throws Exception {
    String topic = "eos-dlq";
    kafka.createTopic(topic, 1);
    kafka.createTopic(topic + ".dlq", 1);
    FrameRecordSerde serde = new FrameRecordSerde();
    produceRaw(
        kafka,
        topic,
        1,
        30,
        (c, s) ->
            s % 10 == 3
                ? "not a frame".getBytes(StandardCharsets.UTF_8)
                : serde.write(KafkaTestSupport.frame("cam-0", s)));
    try (KafkaFrameSource source =
        new KafkaFrameSource(config(topic, "g-eos-dlq"), kafka.clientProperties())) {
      List<Frame> good =
          source.frames().doOnNext(Frame::ack).take(27).collectList().block(Duration.ofSeconds(60));
      assertThat(good).hasSize(27);
    }
    List<ConsumerRecord<byte[], byte[]>> letters = read(topic + ".dlq", 3, "read_committed");
    assertThat(letters).hasSize(3);
    assertThat(letters)
        .extracting(r -> header(r, FrameHeaders.DLQ_SOURCE_OFFSET))
        .containsExactly("3", "13", "23");
    assertThat(committed(kafka, "g-eos-dlq")).isEqualTo(Map.of(new TopicPartition(topic, 0), 30L));
  }

  private static String header(ConsumerRecord<byte[], byte[]> r, String key) {
    return new String(r.headers().lastHeader(key).value(), StandardCharsets.UTF_8);
  }

  private static List<String> readCommitted(String topic) throws Exception {
    List<String> values = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : read(topic, Integer.MAX_VALUE, "read_committed")) {
      values.add(new String(r.value(), StandardCharsets.UTF_8).trim());
    }
    return values;
  }

  /** Everything up to the partitions' end (or {@code max} records), as a reader would see it. */
  private static List<ConsumerRecord<byte[], byte[]>> read(String topic, int max, String isolation)
      throws Exception {
    Properties p = new Properties();
    p.putAll(kafka.clientProperties());
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> c =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> tps = List.of(new TopicPartition(topic, 0));
      c.assign(tps);
      c.seekToBeginning(tps);
      long end = c.endOffsets(tps).get(tps.get(0)); // the last stable offset for read_committed
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (c.position(tps.get(0)) < end && out.size() < max && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(200)).forEach(out::add);
      }
    }
    return out;
  }
}
