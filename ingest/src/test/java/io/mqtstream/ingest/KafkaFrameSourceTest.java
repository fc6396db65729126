package io.mqtstream.ingest;

import static io.mqtstream.ingest.KafkaTestSupport.committed;
import static io.mqtstream.ingest.KafkaTestSupport.endOffsets;
import static io.mqtstream.ingest.KafkaTestSupport.produce;
import static io.mqtstream.ingest.KafkaTestSupport.produceRaw;
import static io.mqtstream.ingest.KafkaTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;

import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.wire.FrameHeaders;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.FrameRecordSerde;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;

/** {@link KafkaFrameSource} against a real embedded KRaft broker (one per class). */
@Tag("kafka")
class KafkaFrameSourceTest {
  private static EmbeddedKafka kafka;

  @BeforeAll
  static void startBroker() {
    kafka = EmbeddedKafka.start();
  }

  @AfterAll
  static void stopBroker() {
    kafka.close();
  }

  private static FrameSourceConfig config(
      String topic, String group, int maxInFlight, int maxPoll) {
    return FrameSourceConfig.defaults(topic, group).withMaxInFlight(maxInFlight, maxPoll);
  }

  @Test
  void brokerListensOnLoopbackAndCreatesTopicsWithTheirPartitions() throws Exception {
    kafka.createTopic("t-layout", 3);
    assertThat(kafka.bootstrapServers()).startsWith("127.0.0.1:");
    assertThat(kafka.topics()).contains("t-layout");
    assertThat(endOffsets(kafka, "t-layout", 3)).hasSize(3);
  }

  @Test
  void slowSubscriberGetsEveryFrameInCameraOrderWithBoundedInFlight() throws Exception {
    String topic = "frames-slow";
    kafka.createTopic(topic, 4);
    kafka.createTopic(topic + ".dlq", 1);
    int cameras = 4;
    int perCamera = 2_500;
    produce(kafka, topic, cameras, perCamera);

    int maxInFlight = 64;
    Map<String, List<Long>> seen = new ConcurrentHashMap<>();
    AtomicInteger count = new AtomicInteger();
    CountDownLatch done = new CountDownLatch(1);
    Scheduler worker = Schedulers.newSingle("slow-subscriber");
    try (KafkaFrameSource source =
        new KafkaFrameSource(config(topic, "g-slow", maxInFlight, 16), kafka.clientProperties())) {
      Disposable d =
          source
              .frames()
              .publishOn(worker, 8)
              .subscribe(
                  f -> {
                    seen.computeIfAbsent(f.cameraId(), k -> new ArrayList<>())
                        .add(f.record().sequence());
                    if (count.incrementAndGet() % 500 == 0) {
                      sleep(100); // a deliberately slow stage: demand goes to zero
                    }
                    f.ack();
                    if (count.get() == cameras * perCamera) {
                      done.countDown();
                    }
                  });
      assertThat(done.await(120, TimeUnit.SECONDS)).as("all frames arrive").isTrue();
      source.stop();
      source.close();
      d.dispose();

      assertThat(seen).hasSize(cameras);
      for (List<Long> seqs : seen.values()) {
        List<Long> expected = new ArrayList<>();
        for (long s = 0; s < perCamera; s++) {
          expected.add(s);
        }
        assertThat(seqs).as("per-camera order, nothing lost, no duplicate").isEqualTo(expected);
      }
      assertThat(source.stats().maxInFlightSeen()).isPositive().isLessThanOrEqualTo(maxInFlight);
      assertThat(source.stats().pauses()).as("partitions were paused").isPositive();
      assertThat(committed(kafka, "g-slow")).isEqualTo(nonEmpty(endOffsets(kafka, topic, 4)));
    } finally {
      worker.dispose();
    }
  }

  @Test
  void emitsOnlyWhatWasRequested() {
    String topic = "frames-demand";
    kafka.createTopic(topic, 1);
    produce(kafka, topic, 1, 50);
    try (KafkaFrameSource source =
        new KafkaFrameSource(config(topic, "g-demand", 16, 8), kafka.clientProperties())) {
      StepVerifier.create(source.frames(), 0)
          .expectSubscription()
          .expectNoEvent(Duration.ofMillis(300))
          .thenRequest(3)
          .expectNextMatches(f -> f.record().sequence() == 0)
          .expectNextCount(2)
          .expectNoEvent(Duration.ofMillis(500))
          .thenRequest(2)
          .expectNextCount(2)
          .thenCancel()
          .verify(Duration.ofSeconds(30));
      assertThat(source.stats().pauses()).isPositive();
    }
  }

  @Test
  void newSourceInTheGroupResumesFromCommittedOffsets() throws Exception {
    String topic = "frames-resume";
    kafka.createTopic(topic, 2);
    kafka.createTopic(topic + ".dlq", 1);
    int cameras = 2;
    int perCamera = 1_000;
    produce(kafka, topic, cameras, perCamera);
    Set<String> seen = ConcurrentHashMap.newKeySet();

    // First subscriber acknowledges half of the frames, then dies (cancels) without a drain.
    FrameSourceConfig cfg = config(topic, "g-resume", 64, 16);
    try (KafkaFrameSource first = new KafkaFrameSource(cfg, kafka.clientProperties())) {
      List<Frame> firstRun =
          first
              .frames()
              .take(cameras * perCamera / 2)
              .doOnNext(
                  f -> {
                    seen.add(f.cameraId() + "/" + f.record().sequence());
                    f.ack();
                  })
              .collectList()
              .block(Duration.ofSeconds(60));
      assertThat(firstRun).hasSize(cameras * perCamera / 2);
    }
    long committedAfterFirst =
        committed(kafka, "g-resume").values().stream().mapToLong(Long::longValue).sum();
    assertThat(committedAfterFirst).isBetween(1L, (long) cameras * perCamera / 2);

    AtomicInteger secondCount = new AtomicInteger();
    try (KafkaFrameSource second = new KafkaFrameSource(cfg, kafka.clientProperties())) {
      Disposable d =
          second
              .frames()
              .subscribe(
                  f -> {
                    seen.add(f.cameraId() + "/" + f.record().sequence());
                    secondCount.incrementAndGet();
                    f.ack();
                  });
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (seen.size() < cameras * perCamera && System.nanoTime() < deadline) {
        sleep(50);
      }
      second.stop();
      second.close();
      d.dispose();
    }
    assertThat(seen).as("every frame seen at least once").hasSize(cameras * perCamera);
    assertThat((long) secondCount.get())
        .as("the second source starts at the committed offsets, not at zero")
        .isEqualTo(cameras * perCamera - committedAfterFirst);
    assertThat(committed(kafka, "g-resume")).isEqualTo(nonEmpty(endOffsets(kafka, topic, 2)));
  }

  @Test
  void corruptRecordsGoToTheDeadLetterTopicWhileGoodOnesFlow() throws Exception {
    String topic = "frames-corrupt";
    kafka.createTopic(topic, 1);
    kafka.createTopic(topic + ".dlq", 1);
    FrameRecordSerde serde = new FrameRecordSerde();
    // Every 10th record is garbage, every 15th a truncated frame.
    produceRaw(
        kafka,
        topic,
        1,
        100,
        (c, s) -> {
          if (s % 10 == 3) {
            return "not a frame".getBytes(StandardCharsets.UTF_8);
          }
          byte[] good = serde.write(KafkaTestSupport.frame("cam-0", s));
          return s % 15 == 7 ? java.util.Arrays.copyOf(good, good.length - 5) : good;
        });
    long bad =
        java.util.stream.LongStream.range(0, 100).filter(s -> s % 10 == 3 || s % 15 == 7).count();

    try (KafkaFrameSource source =
        new KafkaFrameSource(config(topic, "g-corrupt", 32, 8), kafka.clientProperties())) {
      List<Long> good =
          source
              .frames()
              .doOnNext(Frame::ack)
              .map(f -> f.record().sequence())
              .take(100 - bad)
              .collectList()
              .block(Duration.ofSeconds(60));
      assertThat(good).hasSize((int) (100 - bad)).doesNotHaveDuplicates();
      assertThat(good).noneMatch(s -> s % 10 == 3 || s % 15 == 7);
    }

    List<ConsumerRecord<byte[], byte[]>> dlq = readAll(kafka, topic + ".dlq", (int) bad);
    assertThat(dlq).hasSize((int) bad);
    Map<String, String> first = headers(dlq.get(0));
    assertThat(first.get(FrameHeaders.DLQ_REASON)).startsWith("magic:");
    assertThat(first.get(FrameHeaders.DLQ_FIELD)).isEqualTo("magic");
    assertThat(first.get(FrameHeaders.DLQ_SOURCE_TOPIC)).isEqualTo(topic);
    assertThat(first.get(FrameHeaders.DLQ_SOURCE_PARTITION)).isEqualTo("0");
    assertThat(first.get(FrameHeaders.DLQ_SOURCE_OFFSET)).isEqualTo("3");
    assertThat(new String(dlq.get(0).value(), StandardCharsets.UTF_8)).isEqualTo("not a frame");
    assertThat(dlq)
        .anySatisfy(r -> assertThat(headers(r).get(FrameHeaders.DLQ_FIELD)).isEqualTo("payload"));
  }

  @Test
  void aBurstOfTenThousandGarbageRecordsGoesToTheDeadLetterTopicWithinTheInFlightBound()
      throws Exception {
    String topic = "frames-burst";
    kafka.createTopic(topic, 1);
    kafka.createTopic(topic + ".dlq", 1);
    FrameRecordSerde serde = new FrameRecordSerde();
    java.util.Random random = new java.util.Random(42);
    // 10,000 records of random bytes, then 20 frames: the garbage must not hold the frames up
    produceRaw(
        kafka,
        topic,
        1,
        10_020,
        (c, s) -> {
          if (s >= 10_000) {
            return serde.write(KafkaTestSupport.frame("cam-0", s));
          }
          byte[] junk = new byte[1 + random.nextInt(200)];
          random.nextBytes(junk);
          return junk;
        });
    int maxInFlight = 64;
    try (KafkaFrameSource source =
        new KafkaFrameSource(config(topic, "g-burst", maxInFlight, 32), kafka.clientProperties())) {
      List<Long> frames =
          source
              .frames()
              .doOnNext(Frame::ack)
              .map(f -> f.record().sequence())
              .take(20)
              .collectList()
              .block(Duration.ofSeconds(120));
      assertThat(frames).hasSize(20).allMatch(s -> s >= 10_000);
      // dead letters are acknowledged by the broker asynchronously: wait for the last of them
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (source.stats().deadLettered() < 10_000 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(source.stats().deadLettered()).isEqualTo(10_000);
      assertThat(source.stats().maxInFlightSeen()).isLessThanOrEqualTo(maxInFlight);
    }
    List<ConsumerRecord<byte[], byte[]>> dlq = readAll(kafka, topic + ".dlq", 10_000);
    assertThat(dlq).hasSize(10_000);
    assertThat(dlq).allSatisfy(r -> assertThat(headers(r)).containsKey(FrameHeaders.DLQ_REASON));
  }

  @Test
  void thePayloadLimitFromTheClientPropertiesSendsBiggerFramesToTheDeadLetterTopic() {
    String topic = "frames-limit";
    kafka.createTopic(topic, 1);
    kafka.createTopic(topic + ".dlq", 1);
    FrameRecordSerde serde = new FrameRecordSerde();
    produceRaw(
        kafka,
        topic,
        1,
        3,
        (c, s) ->
            serde.write(
                new FrameRecord(
                    "cam-0",
                    s,
                    s * 1000,
                    64,
                    64,
                    FrameRecord.Encoding.JPEG,
                    new byte[s == 1 ? 5_000 : 500])));
    Map<String, Object> client = new java.util.HashMap<>(kafka.clientProperties());
    client.put(FrameRecordSerde.MAX_PAYLOAD_CONFIG, "1000");
    try (KafkaFrameSource source = new KafkaFrameSource(config(topic, "g-limit", 32, 8), client)) {
      List<Long> read =
          source
              .frames()
              .doOnNext(Frame::ack)
              .map(f -> f.record().sequence())
              .take(2)
              .collectList()
              .block(Duration.ofSeconds(60));
      assertThat(read).containsExactly(0L, 2L);
    }
    List<ConsumerRecord<byte[], byte[]>> dlq = readAll(kafka, topic + ".dlq", 1);
    assertThat(dlq).hasSize(1);
    assertThat(headers(dlq.get(0)).get(FrameHeaders.DLQ_FIELD)).isEqualTo("payloadLength");
    assertThat(headers(dlq.get(0)).get(FrameHeaders.DLQ_REASON)).contains("1000");
  }

  @Test
  void gracefulStopCommitsExactlyTheAcknowledgedFramesThenCompletes() throws Exception {
    String topic = "frames-stop";
    kafka.createTopic(topic, 1);
    produce(kafka, topic, 1, 200);
    FrameSourceConfig cfg =
        new FrameSourceConfig(
            topic,
            "g-stop",
            topic + ".dlq",
            128,
            8,
            Duration.ofMillis(100),
            Duration.ofMillis(200),
            Duration.ofMillis(500),
            Delivery.AT_LEAST_ONCE);
    List<Frame> frames = new java.util.concurrent.CopyOnWriteArrayList<>();
    CountDownLatch completed = new CountDownLatch(1);
    try (KafkaFrameSource source = new KafkaFrameSource(cfg, kafka.clientProperties())) {
      source
          .frames()
          .subscribe(
              new reactor.core.publisher.BaseSubscriber<Frame>() {
                @Override
                protected void hookOnSubscribe(org.reactivestreams.Subscription s) {
                  request(61);
                }

                @Override
                protected void hookOnNext(Frame f) {
                  frames.add(f);
                }

                @Override
                protected void hookOnComplete() {
                  completed.countDown();
                }
              });
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (frames.size() < 61 && System.nanoTime() < deadline) {
        sleep(10);
      }
      assertThat(frames).hasSize(61);
      // Acknowledge 0..49 and 60, but not 50..59: the commit must stop at 50.
      frames.stream()
          .filter(f -> f.record().sequence() < 50 || f.record().sequence() == 60)
          .forEach(Frame::ack);
      source.stop();
      assertThat(completed.await(10, TimeUnit.SECONDS))
          .as("completes after the drain timeout, with frames still unacknowledged")
          .isTrue();
    }
    assertThat(committed(kafka, "g-stop")).isEqualTo(Map.of(new TopicPartition(topic, 0), 50L));
  }

  private static Map<TopicPartition, Long> nonEmpty(Map<TopicPartition, Long> offsets) {
    Map<TopicPartition, Long> out = new HashMap<>(offsets);
    out.values().removeIf(o -> o == 0L);
    return out;
  }

  private static Map<String, String> headers(ConsumerRecord<byte[], byte[]> r) {
    Map<String, String> m = new HashMap<>();
    r.headers().forEach(h -> m.put(h.key(), new String(h.value(), StandardCharsets.UTF_8)));
    return m;
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
