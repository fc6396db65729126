package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mqtstream.app.EngineConfig;
import io.mqtstream.camera.CameraPublisher;
import io.mqtstream.camera.CameraSource;
import io.mqtstream.camera.CameraSources;
import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.wire.Answer;
import io.mqtstream.wire.FrameRecord;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Engines as real processes meeting real faults, against a real broker: {@code kill -9} mid-stream
 * and a restart; two processes in one consumer group, one killed; the broker restarted under a
 * running engine; each under at-least-once and exactly-once delivery. Every published frame must be
 * answered; duplicates and recovery times are counted and printed, and under exactly-once the
 * answers' {@code read_committed} reader must see none twice.
 */
@Tag("process")
class ProcessFaultsTest {
  private static final int CAMERAS = 4;
  private static final double FPS = 2;

  /** Fast failover for the group test: the broker's minimum session timeout. */
  private static final Map<String, String> FAST_FAILOVER =
      Map.of(
          ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000",
          ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");

  private static EmbeddedKafka kafka;

  @BeforeAll
  static void startBroker() {
    kafka = EmbeddedKafka.start();
  }

  @AfterAll
  static void stopBroker() {
    kafka.close();
  }

  private static EngineConfig config(String fault, String delivery) {
    String name = fault + "-" + delivery;
    kafka.createTopic(name + "-frames", CAMERAS);
    kafka.createTopic(name + "-answers", 1);
    return EngineConfig.parse(
        """
        kafka:
          bootstrapServers: embedded
          framesTopic: %1$s-frames
          answersTopic: %1$s-answers
          queriesTopic: %1$s-queries
          deadLetterTopic: %1$s-dlq
          groupId: %1$s-engine
        ingest:
          delivery: %2$s
        """
            .formatted(name, delivery),
        name);
  }

  /** Under exactly-once a read_committed reader must see no answer twice. */
  private static void checkDuplicates(EngineConfig c, Books books) {
    if (c.ingest().delivery().equals("exactly-once")) {
      assertThat(books.duplicates()).as("duplicates seen by a read_committed reader").isZero();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"at-least-once", "exactly-once"})
  void anEngineKilledWithSigkillAndRestartedAnswersEveryFrame(String delivery, @TempDir Path dir)
      throws Exception {
    EngineConfig c = config("kill9", delivery);
    try (Books books = new Books(c);
        Cameras cameras = new Cameras(c, books);
        EngineProcess first =
            EngineProcess.start(dir, "first", c, kafka.bootstrapServers(), Map.of())) {
      await(() -> books.answers() >= 20, 120, "the first engine answers");
      first.kill(); // kill -9: no drain, no commit
      assertThat(first.waitFor(30)).isTrue();
      long killedAt = System.nanoTime();
      Set<String> beforeKill = books.published();
      try (EngineProcess second =
          EngineProcess.start(dir, "second", c, kafka.bootstrapServers(), Map.of())) {
        double recovered = recover(books, cameras, beforeKill, killedAt, second);
        second.terminate();
        assertThat(second.waitFor(60)).isTrue();
        System.out.printf(
            "%s, kill -9 + restart: %d frames, all answered; %d duplicate answers;"
                + " frames published before the kill all answered %.1f s after it%n",
            delivery, books.published().size(), books.duplicates(), recovered);
        checkDuplicates(c, books);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"at-least-once", "exactly-once"})
  void twoEnginesShareTheGroupAndTheSurvivorTakesOverAKilledOnesPartitions(
      String delivery, @TempDir Path dir) throws Exception {
    EngineConfig c = config("group", delivery);
    try (Books books = new Books(c);
        Cameras cameras = new Cameras(c, books);
        EngineProcess a =
            EngineProcess.start(dir, "a", c, kafka.bootstrapServers(), FAST_FAILOVER);
        EngineProcess b =
            EngineProcess.start(dir, "b", c, kafka.bootstrapServers(), FAST_FAILOVER)) {
      await(() -> assigned(a) && assigned(b) && books.answers() >= 20, 120, "both engines work");
      a.kill();
      long killedAt = System.nanoTime();
      Set<String> beforeKill = books.published();
      double recovered = recover(books, cameras, beforeKill, killedAt, b);
      // the survivor's last assignment holds every partition
      String log = b.log();
      String last = log.substring(log.lastIndexOf("assigned ["));
      for (int p = 0; p < CAMERAS; p++) {
        assertThat(last.substring(0, last.indexOf(']')))
            .contains(c.kafka().framesTopic() + "-" + p);
      }
      b.terminate();
      assertThat(b.waitFor(60)).isTrue();
      System.out.printf(
          "%s, two engines, one killed: %d frames, all answered; %d duplicate answers;"
              + " frames published before the kill all answered %.1f s after it%n",
          delivery, books.published().size(), books.duplicates(), recovered);
      checkDuplicates(c, books);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"at-least-once", "exactly-once"})
  void theBrokerRestartedUnderARunningEngineLosesNoFrame(String delivery, @TempDir Path dir)
      throws Exception {
    EngineConfig c = config("restart", delivery);
    try (Books books = new Books(c);
        Cameras cameras = new Cameras(c, books);
        EngineProcess engine =
            EngineProcess.start(dir, "engine", c, kafka.bootstrapServers(), Map.of())) {
      await(() -> books.answers() >= 20, 120, "the engine answers");
      long down = System.nanoTime();
      kafka.restart(Duration.ofSeconds(3)); // clients on both sides see the broker gone
      Set<String> beforeRestart = books.published();
      double recovered = recover(books, cameras, beforeRestart, down, engine);
      assertThat(engine.alive()).as("the engine rode out the outage").isTrue();
      engine.terminate();
      assertThat(engine.waitFor(60)).isTrue();
      System.out.printf(
          "%s, broker restarted (3 s down): %d frames, all answered; %d duplicate answers;"
              + " frames published before it all answered %.1f s after it went down%n",
          delivery, books.published().size(), books.duplicates(), recovered);
      checkDuplicates(c, books);
    }
  }

  /**
   * After a fault at {@code faultNanos}: waits until every frame published before it is answered
   * (the returned seconds), then for the answers to go on, stops the cameras and waits until every
   * frame published at all is answered. The waits end in failure when no answer has come for {@link
   * #STALL_SECONDS} (a slow machine answers late, a lost frame never), naming the unanswered frames
   * and ending with the tail of {@code engine}'s log.
   */
  private static double recover(
      Books books, Cameras cameras, Set<String> beforeFault, long faultNanos, EngineProcess engine)
      throws InterruptedException {
    awaitAnswers(
        books,
        () -> books.answered(beforeFault),
        "every frame published before the fault",
        () -> books.unanswered(beforeFault, engine));
    double recovered = (System.nanoTime() - faultNanos) / 1e9;
    long answersNow = books.answers();
    await(
        () -> books.answers() > answersNow + 10,
        60,
        "answers go on after the fault",
        () -> books.unanswered(books.published(), engine));
    cameras.close();
    Set<String> all = books.published();
    awaitAnswers(
        books,
        () -> books.answered(all),
        "every frame published",
        () -> books.unanswered(all, engine));
    return recovered;
  }

  /**
   * Longest wait without a new answer: covers a consumer group's default session timeout (45 s, the
   * restarted engine waits it out after a {@code kill -9}) plus an engine's start.
   */
  private static final long STALL_SECONDS = 120;

  /** Waits for {@code condition} while answers keep coming; fails after a stall or 15 minutes. */
  private static void awaitAnswers(
      Books books, BooleanSupplier condition, String what, Supplier<String> state)
      throws InterruptedException {
    long start = System.nanoTime();
    long lastAnswers = books.answers();
    long lastProgress = start;
    while (!condition.getAsBoolean()) {
      long now = System.nanoTime();
      long answers = books.answers();
      if (answers != lastAnswers) {
        lastAnswers = answers;
        lastProgress = now;
      }
      if (now - lastProgress > Duration.ofSeconds(STALL_SECONDS).toNanos()
          || now - start > Duration.ofMinutes(15).toNanos()) {
        throw new AssertionError(
            "%s: not after %.0f s, the last new answer %.0f s ago%s"
                .formatted(what, (now - start) / 1e9, (now - lastProgress) / 1e9, state.get()));
      }
      Thread.sleep(100);
    }
  }

  private static boolean assigned(EngineProcess p) {
    try {
      return p.log().contains("assigned [");
    } catch (java.io.IOException e) {
      return false;
    }
  }

  private static void await(BooleanSupplier condition, long seconds, String what)
      throws InterruptedException {
    await(condition, seconds, what, () -> "");
  }

  private static void await(
      BooleanSupplier condition, long seconds, String what, Supplier<String> state)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(what + ": not within " + seconds + " s" + state.get());
      }
      Thread.sleep(100);
    }
  }

  /** What was published (on the broker's ack) and every answer read back. */
  private static final class Books implements AutoCloseable {
    private final Set<String> published = ConcurrentHashMap.newKeySet();
    private final Map<String, Integer> answerCounts = new ConcurrentHashMap<>();
    private final List<String> questions;
    private final Thread reader;
    private volatile boolean closed;

    Books(EngineConfig c) {
      this.questions = c.questions().defaults();
      Map<String, Object> p = new HashMap<>(kafka.clientProperties());
      p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
      p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
      KafkaConsumer<String, byte[]> consumer =
          new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
      TopicPartition tp = new TopicPartition(c.kafka().answersTopic(), 0);
      consumer.assign(List.of(tp));
      consumer.seekToBeginning(List.of(tp));
      reader =
          new Thread(
              () -> {
                try (consumer) {
                  while (!closed) {
                    for (var r : consumer.poll(Duration.ofMillis(100))) {
                      Answer a = Answer.fromJson(r.value());
                      answerCounts.merge(
                          a.cameraId() + "#" + a.frameSeq() + "#" + a.question(), 1, Integer::sum);
                    }
                  }
                }
              },
              "answers-reader");
      reader.start();
    }

    void published(String camera, long seq) {
      published.add(camera + "#" + seq);
    }

    Set<String> published() {
      return Set.copyOf(published);
    }

    long answers() {
      return answerCounts.values().stream().mapToLong(Integer::longValue).sum();
    }

    /** Every frame of {@code frames} has an answer to every standing question. */
    boolean answered(Set<String> frames) {
      return frames.stream().allMatch(this::answered);
    }

    private boolean answered(String frame) {
      return questions.stream().allMatch(q -> answerCounts.containsKey(frame + "#" + q));
    }

    /** The frames of {@code frames} still missing an answer, and the engine's last log lines. */
    String unanswered(Set<String> frames, EngineProcess engine) {
      List<String> missing = frames.stream().filter(f -> !answered(f)).sorted().toList();
      String tail;
      try {
        List<String> lines = engine.log().lines().toList();
        tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
      } catch (java.io.IOException e) {
        tail = "(engine log unreadable: " + e + ")";
      }
      return "\n%d of %d frames unanswered, first %s\nengine log tail:\n%s"
          .formatted(
              missing.size(),
              frames.size(),
              missing.subList(0, Math.min(20, missing.size())),
              tail);
    }

    long duplicates() {
      return answerCounts.values().stream().mapToLong(n -> n - 1).sum();
    }

    @Override
    public void close() throws InterruptedException {
      closed = true;
      reader.join(5_000);
    }
  }

  /** Synthetic cameras publishing until closed, each frame booked on the broker's ack. */
  private static final class Cameras implements AutoCloseable {
    private final KafkaProducer<String, FrameRecord> producer;
    private final List<CameraPublisher> publishers = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();

    Cameras(EngineConfig c, Books books) {
      CameraPublisher.Options first =
          new CameraPublisher.Options(
              c.kafka().framesTopic(),
              "cam-0",
              FPS,
              0.9f,
              true,
              0,
              Duration.ofMillis(100),
              Duration.ofSeconds(1),
              -1);
      producer = CameraPublisher.producer(first, kafka.clientProperties());
      for (int i = 0; i < CAMERAS; i++) {
        CameraPublisher.Options o =
            new CameraPublisher.Options(
                c.kafka().framesTopic(),
                "cam-" + i,
                FPS,
                0.9f,
                true,
                0,
                Duration.ofMillis(100),
                Duration.ofSeconds(1),
                -1);
        CameraPublisher publisher =
            new CameraPublisher(
                o,
                producer,
                new SimpleMeterRegistry(),
                (cam, seq, at) -> books.published(cam, seq));
        String source = "synthetic:split=test,start=" + (i * 1000);
        Thread t =
            new Thread(
                () -> {
                  try (CameraSource s = CameraSources.open(source)) {
                    publisher.run(s);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                },
                "camera-" + i);
        publishers.add(publisher);
        threads.add(t);
        t.start();
      }
    }

    private boolean closed;

    @Override
    public void close() throws InterruptedException {
      if (closed) {
        return;
      }
      closed = true;
      publishers.forEach(CameraPublisher::stop);
      for (Thread t : threads) {
        t.join(10_000);
      }
      producer.flush();
      producer.close();
    }
  }
}
