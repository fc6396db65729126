package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.mqtstream.app.ConfigException;
import io.mqtstream.app.EngineConfig;
import io.mqtstream.camera.CameraPublisher;
import io.mqtstream.camera.CameraSource;
import io.mqtstream.camera.CameraSources;
import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.loadtest.Harness;
import io.mqtstream.loadtest.Ledger;
import io.mqtstream.wire.Answer;
import io.mqtstream.wire.FrameHeaders;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.FrameRecordSerde;
import io.mqtstream.wire.JpegEncoder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The engine end to end: a real embedded KRaft broker (one for the class), the shipped mqt-tiny
 * model, synthetic cameras through the load-test harness.
 */
@Tag("kafka")
class EngineTest {
  private static EmbeddedKafka kafka;

  /**
   * The class's one admin client: a client per call, never closed, had left hundreds of them
   * retrying the stopped broker, each on its own thread, through the test classes after this one.
   */
  private static Admin admin;

  @BeforeAll
  static void startBroker() {
    kafka = EmbeddedKafka.start();
    admin = kafka.admin();
  }

  @AfterAll
  static void stopBroker() {
    admin.close();
    kafka.close();
  }

  /** A config whose topics and group are this test's own. */
  private static EngineConfig config(String name, int port, String extra) {
    String yaml =
        """
        kafka:
          bootstrapServers: embedded
          framesTopic: %1$s-frames
          answersTopic: %1$s-answers
          queriesTopic: %1$s-queries
          deadLetterTopic: %1$s-dlq
          groupId: %1$s-engine
        server:
          port: %2$d
        """
                .formatted(name, port)
            + extra;
    kafka.createTopic(name + "-frames", 2);
    return EngineConfig.parse(yaml, name);
  }

  private static Engine start(EngineConfig config) throws Exception {
    return Engine.start(
        config, kafka.bootstrapServers(), new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
  }

  private static Harness.Options load(
      EngineConfig c, int cameras, double fps, Duration duration, String prefix) {
    return new Harness.Options(
        cameras,
        fps,
        duration,
        Harness.Profile.CONSTANT,
        prefix,
        Harness.Options.synthetic(),
        c.kafka().framesTopic(),
        c.kafka().answersTopic(),
        c.kafka().groupId(),
        Duration.ofSeconds(90),
        Duration.ZERO);
  }

  private static Ledger run(EngineConfig c, Harness.Options o) throws InterruptedException {
    return new Harness(kafka.clientProperties(), o, r -> {}, p -> {}).run();
  }

  /** The model card's accuracy at m = M on the two default questions' types. */
  private static double modelCardAccuracy() throws Exception {
    JsonNode m64 =
        new ObjectMapper()
            .readTree(Engine.resolveModel("models/mqt-tiny").resolve("eval.json").toFile())
            .path("m")
            .path("64")
            .path("by_type");
    return (m64.path("count_all").asDouble() + m64.path("count_colour").asDouble()) / 2;
  }

  @Test
  void everyFrameIsAnsweredNearTheModelCardsAccuracyWithMetricsAndHealth() throws Exception {
    EngineConfig c = config("e2e", 0, "");
    try (Engine engine = start(c)) {
      Ledger.Summary s = run(c, load(c, 2, 2, Duration.ofSeconds(10), "cam-")).summary();
      assertThat(s.framesSent()).isGreaterThanOrEqualTo(36);
      assertThat(s.lost()).as("frames never answered").isZero();
      assertThat(s.answers()).isEqualTo(2 * s.framesSent()); // two standing questions
      assertThat(s.scored()).isEqualTo(s.answers());
      assertThat(s.accuracy())
          .isCloseTo(modelCardAccuracy(), org.assertj.core.data.Offset.offset(0.15));

      HttpClient http = HttpClient.newHttpClient();
      String base = "http://localhost:" + engine.httpPort();
      HttpResponse<String> metrics =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(metrics.statusCode()).isEqualTo(200);
      assertThat(metrics.body())
          .contains("mqt_engine_answers_total " + (double) s.answers())
          .contains("mqt_engine_latency_seconds_bucket")
          .contains("mqt_budget_m ")
          .contains("mqt_budget_stride ")
          .contains("mqt_budget_failed_steps_total ")
          .contains("mqt_tokens_per_frame_count")
          .contains("mqt_reasoner_batch_size_count")
          .contains("mqt_reasoner_queue ")
          .contains("mqt_kafka_lag ")
          .contains("mqt_dlq_total{stage=\"decode\"");
      HttpResponse<String> health =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/health")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(health.statusCode()).isEqualTo(200);
      assertThat(health.body()).contains("\"status\":\"UP\"");
    }
  }

  @Test
  void underOverloadMDropsNothingIsLostAndMReturnsToMWhenTheLoadGoes() throws Exception {
    EngineConfig c = config("overload", -1, "");
    // Three times what the reasoner answers at M in one full batch (at least 4 fps a camera, the
    // rate this test used when it was written for this machine).
    double capacity = Capacity.framesPerSecondAtM(c);
    int cameras = 8;
    double fps = Math.max(4, 3 * capacity / cameras);
    try (Engine engine = start(c)) {
      Ledger.Summary s = run(c, load(c, cameras, fps, Duration.ofSeconds(15), "cam-")).summary();
      assertThat(s.lost()).isZero();
      assertThat(s.mMin())
          .as("m fell under load (%.1f fps at M measured)", capacity)
          .isLessThan(64);
      assertThat(s.mMean()).as("mean m").isLessThan(48);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (engine.budget().m() < 64 && System.nanoTime() < deadline) {
        Thread.sleep(200);
      }
      assertThat(engine.budget().m()).as("m back at M once the load is gone").isEqualTo(64);
    }
  }

  @Test
  void whenEvenTheFloorCannotKeepUpFramesAreShedVisiblyAndNoneIsLost() throws Exception {
    // A latency target no machine meets and a floor at M: m cannot be cut, so the budget sheds.
    EngineConfig c =
        config(
            "shed",
            -1,
            """
            budget:
              floor: 64
              latencyTarget: 1ms
              maxStride: 4
            """);
    PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (Engine engine = Engine.start(c, kafka.bootstrapServers(), meters)) {
      Ledger.Summary s = run(c, load(c, 2, 4, Duration.ofSeconds(10), "cam-")).summary();
      assertThat(s.lost()).as("frames with neither answers nor skips").isZero();
      assertThat(engine.budget().stride()).isEqualTo(4);
      assertThat(s.skipped()).as("frames shed").isPositive();
      assertThat(s.answers()).as("frames still answered").isPositive();
      assertThat(s.mMin()).as("answered at the floor, never below").isEqualTo(64);
      // the engine's count and the topic's skip records are two sides of the same frames
      assertThat(meters.counter("mqt.engine.frames.shed").count()).isEqualTo(s.skipped());
      assertThat(s.timelyAccuracy()).isLessThan(s.accuracy());
    }
  }

  @Test
  void afterACrashARestartAnswersEveryFrame() throws Exception {
    EngineConfig c = config("crash", -1, "");
    Engine[] engine = {start(c)};
    Thread chaos =
        new Thread(
            () -> {
              try {
                // mid-stream: once the engine has taken a dozen frames
                await(() -> engine[0].sourceStats().delivered() >= 12, Duration.ofSeconds(60));
                engine[0].halt(); // abrupt: in-flight frames are dropped, not acknowledged
                engine[0] = start(c);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    chaos.start();
    try {
      Ledger.Summary s = run(c, load(c, 2, 3, Duration.ofSeconds(10), "cam-")).summary();
      chaos.join();
      assertThat(s.framesSent()).isGreaterThanOrEqualTo(50);
      assertThat(s.lost()).as("frames with no answer after the restart").isZero();
    } finally {
      chaos.join();
      engine[0].close();
    }
  }

  @Test
  void aPoisonFrameGoesToTheDeadLetterTopicAndTheRestFlow() throws Exception {
    EngineConfig c =
        config("poison", -1, "questions:\n  defaults:\n    - how many shapes are there?\n");
    try (Engine engine = start(c);
        KafkaProducer<String, byte[]> producer =
            new KafkaProducer<>(
                kafka.clientProperties(), new StringSerializer(), new ByteArraySerializer())) {
      FrameRecordSerde serde = new FrameRecordSerde();
      JpegEncoder jpeg = new JpegEncoder(0.9f);
      try (CameraSource camera = CameraSources.open("synthetic:split=test,start=7")) {
        camera.open();
        for (int seq = 0; seq < 10; seq++) {
          CameraSource.Captured frame = camera.grab().orElseThrow();
          byte[] payload =
              seq == 5
                  ? "this is not a JPEG".getBytes(StandardCharsets.UTF_8)
                  : jpeg.encode(frame.image());
          FrameRecord r =
              new FrameRecord(
                  "cam-p",
                  seq,
                  System.currentTimeMillis() * 1000,
                  64,
                  64,
                  FrameRecord.Encoding.JPEG,
                  payload);
          producer.send(new ProducerRecord<>(c.kafka().framesTopic(), "cam-p", serde.write(r)));
          if (seq == 7) { // and a record that is not a frame at all
            producer.send(
                new ProducerRecord<>(c.kafka().framesTopic(), "cam-p", new byte[] {1, 2, 3, 4}));
          }
        }
      }
      producer.flush();
      List<ConsumerRecord<byte[], byte[]>> dlq = readAll(c.kafka().deadLetterTopic(), 2);
      assertThat(dlq).hasSize(2);
      List<String> reasons = new ArrayList<>();
      for (var r : dlq) {
        reasons.add(
            new String(
                r.headers().lastHeader(FrameHeaders.DLQ_REASON).value(), StandardCharsets.UTF_8));
      }
      assertThat(reasons).anyMatch(x -> x.contains("cam-p#5") && x.contains("JPEG"));
      List<ConsumerRecord<byte[], byte[]>> answers = readAll(c.kafka().answersTopic(), 9);
      assertThat(answers.stream().map(r -> Answer.fromJson(r.value()).frameSeq()))
          .containsExactlyInAnyOrder(0L, 1L, 2L, 3L, 4L, 6L, 7L, 8L, 9L);
      // every record, the poison ones included, is processed: the group commits to the end
      awaitCommittedToEnd(c, 11);
    }
  }

  @Test
  void standingQuestionsComeFromTheQueriesTopicAndUpdateLive() throws Exception {
    EngineConfig c = config("queries", -1, "");
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(
            kafka.clientProperties(), new StringSerializer(), new StringSerializer())) {
      kafka.createTopic(c.kafka().queriesTopic(), 1, Map.of("cleanup.policy", "compact"));
      producer
          .send(
              new ProducerRecord<>(
                  c.kafka().queriesTopic(), "cam-0", "[\"did something appear?\"]"))
          .get();
      try (Engine engine = start(c)) {
        Ledger first = run(c, load(c, 2, 2, Duration.ofSeconds(3), "cam-"));
        producer
            .send(
                new ProducerRecord<>(
                    c.kafka().queriesTopic(), "cam-0", "[\"is there a red circle?\"]"))
            .get();
        await(
            () -> engine.questions("cam-0").equals(List.of("is there a red circle?")),
            Duration.ofSeconds(30));
        Ledger second = run(c, load(c, 2, 2, Duration.ofSeconds(3), "cam-"));
        assertThat(first.summary().lost()).isZero();
        assertThat(second.summary().lost()).isZero();
        assertThat(questionsOf(first, "cam-0")).containsExactly("did something appear?");
        assertThat(questionsOf(second, "cam-0")).containsExactly("is there a red circle?");
        assertThat(questionsOf(second, "cam-1"))
            .containsExactlyInAnyOrderElementsOf(c.questions().defaults());
      }
    }
  }

  @Test
  void sigtermDrainsCommitsOnlyAnsweredFramesAndExits(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    EngineConfig c = config("sigterm", -1, "");
    kafka.createTopic(c.kafka().answersTopic(), 1);
    EngineProcess engine =
        EngineProcess.start(dir, "sigterm", c, kafka.bootstrapServers(), Map.of());
    // One camera publishes from now until after the engine has exited, however long the child JVM
    // takes to start: SIGTERM comes mid-stream, and frames keep coming that it never sees.
    java.util.concurrent.atomic.AtomicLong published = new java.util.concurrent.atomic.AtomicLong();
    CameraPublisher.Options cameraOptions =
        new CameraPublisher.Options(
            c.kafka().framesTopic(),
            "cam-0",
            6,
            0.9f,
            true,
            0,
            Duration.ofMillis(100),
            Duration.ofSeconds(1),
            -1);
    var producer = CameraPublisher.producer(cameraOptions, kafka.clientProperties());
    CameraPublisher camera =
        new CameraPublisher(
            cameraOptions,
            producer,
            new io.micrometer.core.instrument.simple.SimpleMeterRegistry(),
            (id, seq, at) -> published.incrementAndGet());
    Thread publishing =
        new Thread(
            () -> {
              try (CameraSource source = CameraSources.open("synthetic:split=test")) {
                camera.run(source);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    publishing.start();
    // the child JVM started, loaded the model and answers frames: mid-stream
    awaitRecords(c.kafka().answersTopic(), 12, Duration.ofSeconds(90));
    engine.terminate(); // SIGTERM
    assertThat(engine.waitFor(60)).isTrue();
    long atExit = published.get();
    await(() -> published.get() > atExit + 3, Duration.ofSeconds(30)); // frames it never saw
    camera.close();
    publishing.join();
    producer.close();
    String out = engine.log();
    assertThat(out).contains("stopping (draining in-flight frames)");
    assertThat(out).doesNotContain("did not drain in time");

    // Every frame below the committed offsets has an answer; the engine answered some frames.
    Map<TopicPartition, OffsetAndMetadata> committed =
        admin.listConsumerGroupOffsets(c.kafka().groupId()).partitionsToOffsetAndMetadata().get();
    Map<String, Object> p = new HashMap<>(kafka.clientProperties());
    List<String> committedFrames = new ArrayList<>();
    FrameRecordSerde serde = new FrameRecordSerde();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      for (var e : committed.entrySet()) {
        consumer.assign(List.of(e.getKey()));
        consumer.seek(e.getKey(), 0);
        long end = e.getValue().offset();
        while (consumer.position(e.getKey()) < end) {
          for (var r : consumer.poll(Duration.ofMillis(200))) {
            if (r.offset() < end) {
              FrameRecord f = serde.read(r.value());
              committedFrames.add(f.cameraId() + "#" + f.sequence());
            }
          }
        }
      }
    }
    assertThat(committedFrames).hasSizeGreaterThan(5);
    java.util.Set<String> answered = new java.util.HashSet<>();
    for (var r : readAll(c.kafka().answersTopic(), 1)) {
      Answer a = Answer.fromJson(r.value());
      answered.add(a.cameraId() + "#" + a.frameSeq());
    }
    assertThat(answered).containsAll(committedFrames);
    assertThat(published.get()).isGreaterThan(committedFrames.size());
  }

  @Test
  void aConfigTheModelCannotServeFailsAtStartNamingTheKey() {
    EngineConfig c = config("badwindow", -1, "window:\n  frames: 99\n");
    assertThatThrownBy(() -> start(c))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.key()).isEqualTo("window.frames"));
    EngineConfig missing = config("badmodel", -1, "model:\n  dir: models/no-such-model\n");
    assertThatThrownBy(() -> start(missing))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.key()).isEqualTo("model.dir"));
  }

  /** Polls {@code condition} until it holds; fails the test after {@code timeout}. */
  private static void await(java.util.function.BooleanSupplier condition, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within " + timeout);
      }
      Thread.sleep(50);
    }
  }

  /** Waits until {@code topic} holds at least {@code count} records. */
  private static void awaitRecords(String topic, long count, Duration timeout)
      throws InterruptedException {
    await(
        () -> {
          try {
            var partitions =
                admin
                    .describeTopics(List.of(topic))
                    .allTopicNames()
                    .get()
                    .get(topic)
                    .partitions()
                    .stream()
                    .map(p -> new TopicPartition(topic, p.partition()))
                    .toList();
            var spec = new HashMap<TopicPartition, org.apache.kafka.clients.admin.OffsetSpec>();
            partitions.forEach(
                tp -> spec.put(tp, org.apache.kafka.clients.admin.OffsetSpec.latest()));
            return admin.listOffsets(spec).all().get().values().stream()
                    .mapToLong(r -> r.offset())
                    .sum()
                >= count;
          } catch (Exception e) {
            return false; // not created yet
          }
        },
        timeout);
  }

  private static java.util.Set<String> questionsOf(Ledger ledger, String camera) {
    return ledger.questions(camera);
  }

  private static List<ConsumerRecord<byte[], byte[]>> readAll(String topic, int atLeast) {
    Map<String, Object> p = new HashMap<>(kafka.clientProperties());
    p.put("group.id", "reader-" + topic + "-" + System.nanoTime());
    p.put("auto.offset.reset", "earliest");
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (out.size() < atLeast && System.nanoTime() < deadline) {
        consumer.poll(Duration.ofMillis(200)).forEach(out::add);
      }
      consumer.poll(Duration.ofMillis(500)).forEach(out::add); // anything beyond
    }
    return out;
  }

  private static void awaitCommittedToEnd(EngineConfig c, long records) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    long committed = 0;
    while (System.nanoTime() < deadline) {
      Map<TopicPartition, OffsetAndMetadata> offsets =
          admin.listConsumerGroupOffsets(c.kafka().groupId()).partitionsToOffsetAndMetadata().get();
      committed = offsets.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
      if (committed == records) {
        return;
      }
      Thread.sleep(200);
    }
    assertThat(committed).as("committed offsets").isEqualTo(records);
  }
}
