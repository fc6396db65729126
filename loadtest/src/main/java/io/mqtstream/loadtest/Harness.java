package io.mqtstream.loadtest;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mqtstream.camera.CameraPublisher;
import io.mqtstream.camera.CameraSource;
import io.mqtstream.camera.CameraSources;
import io.mqtstream.ingest.LagMonitor;
import io.mqtstream.wire.Answer;
import io.mqtstream.wire.FrameHeaders;
import io.mqtstream.wire.FrameRecord;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives cameras into the frames topic at a rate profile and reads the answers back into a {@link
 * Ledger}. It talks to Kafka only, so the engine under test may be in this process or a cluster
 * away.
 */
public final class Harness {
  private static final Logger log = LoggerFactory.getLogger(Harness.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** How each camera's rate changes over the run (a multiplier of fps over run time u ∈ [0,1)). */
  public enum Profile {
    /** fps throughout. */
    CONSTANT,
    /** fps/4 for the first half, then fps. */
    STEP,
    /** from fps/10 rising linearly to fps. */
    RAMP;

    double rate(double u) {
      return switch (this) {
        case CONSTANT -> 1.0;
        case STEP -> u < 0.5 ? 0.25 : 1.0;
        case RAMP -> 0.1 + 0.9 * Math.min(1.0, Math.max(0.0, u));
      };
    }
  }

  /**
   * One run.
   *
   * @param cameras how many cameras
   * @param fps frames per second per camera (before the profile)
   * @param duration how long the cameras publish
   * @param profile the rate over time
   * @param cameraPrefix camera ids are prefix + index (0-based); answers of other cameras are not
   *     counted
   * @param source camera index → source URI (e.g. {@code synthetic:split=test,start=…} or a file)
   * @param framesTopic where frames go
   * @param answersTopic where answers come from
   * @param engineGroup the engine's consumer group, for lag; null = no lag sampling
   * @param drainTimeout after publishing ends, how long to wait for the last answers
   * @param warmup the first part of the run whose frames must be answered but are left out of the
   *     latency, m and accuracy figures (engine and JVM warm-up)
   * @param deadline an answer read back later than this after its frame's capture is late: not
   *     counted in timely accuracy (see {@link Ledger})
   */
  public record Options(
      int cameras,
      double fps,
      Duration duration,
      Profile profile,
      String cameraPrefix,
      IntFunction<String> source,
      String framesTopic,
      String answersTopic,
      String engineGroup,
      Duration drainTimeout,
      Duration warmup,
      Duration deadline) {
    /** Options with a deadline of one second. */
    public Options(
        int cameras,
        double fps,
        Duration duration,
        Profile profile,
        String cameraPrefix,
        IntFunction<String> source,
        String framesTopic,
        String answersTopic,
        String engineGroup,
        Duration drainTimeout,
        Duration warmup) {
      this(
          cameras,
          fps,
          duration,
          profile,
          cameraPrefix,
          source,
          framesTopic,
          answersTopic,
          engineGroup,
          drainTimeout,
          warmup,
          Duration.ofSeconds(1));
    }

    public Options {
      if (deadline == null || deadline.isNegative() || deadline.isZero()) {
        throw new IllegalArgumentException("deadline: must be positive");
      }
      if (warmup == null || warmup.isNegative() || warmup.compareTo(duration) >= 0) {
        throw new IllegalArgumentException("warmup: must be at least 0 and shorter than the run");
      }
      if (cameras < 1) {
        throw new IllegalArgumentException("cameras: must be at least 1");
      }
      if (!(fps > 0)) {
        throw new IllegalArgumentException("fps: must be positive");
      }
    }

    /** Synthetic cameras on the test split, each starting at its own clip. */
    public static IntFunction<String> synthetic() {
      return i -> "synthetic:split=test,start=" + (i * 10_000);
    }
  }

  /** An answer as the harness read it, with the ground truth when there was one. */
  public record Received(Answer answer, String expected, long atMs) {}

  /** A look at a running harness, once a second. */
  public record Progress(
      Duration elapsed, long published, long answers, long unanswered, long lag, double lastM) {}

  private final Map<String, Object> client;
  private final Options options;
  private final Consumer<Received> onAnswer;
  private final Consumer<Progress> onProgress;

  /**
   * @param clientProperties bootstrap servers and any client properties
   * @param onAnswer called for each counted answer (e.g. to print it); on the reader thread
   * @param onProgress called about once a second
   */
  public Harness(
      Map<String, Object> clientProperties,
      Options options,
      Consumer<Received> onAnswer,
      Consumer<Progress> onProgress) {
    this.client = Map.copyOf(clientProperties);
    this.options = options;
    this.onAnswer = onAnswer;
    this.onProgress = onProgress;
  }

  /**
   * Publishes for the duration, waits for the answers (up to the drain timeout), returns the books.
   */
  public Ledger run() throws InterruptedException {
    long start = System.currentTimeMillis();
    Ledger ledger =
        new Ledger(start, start + options.warmup().toMillis(), options.deadline().toMillis());
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AnswerReader reader = new AnswerReader(ledger);
    reader.start();
    reader.awaitAssigned();
    LagMonitor lag =
        options.engineGroup() == null
            ? null
            : new LagMonitor(
                client,
                options.framesTopic(),
                options.engineGroup(),
                reading -> ledger.lag(reading, System.currentTimeMillis()));
    if (lag != null) {
      lag.start(Duration.ofSeconds(1));
    }
    KafkaProducer<String, FrameRecord> producer =
        CameraPublisher.producer(CameraPublisher.Options.of("loadtest"), client);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    List<Thread> cameras = new ArrayList<>();
    long endNanos = System.nanoTime() + options.duration().toNanos();
    try {
      for (int i = 0; i < options.cameras(); i++) {
        int index = i;
        Thread t =
            new Thread(
                () -> {
                  try {
                    publish(index, producer, meters, ledger);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                  }
                },
                "mqt-loadtest-camera-" + i);
        t.setDaemon(true);
        cameras.add(t);
        t.start();
      }
      while (System.nanoTime() < endNanos && failure.get() == null) {
        Thread.sleep(Math.min(1000, Math.max(1, (endNanos - System.nanoTime()) / 1_000_000)));
        progress(ledger, start, reader);
      }
      for (Thread t : cameras) {
        t.join(10_000);
      }
      producer.flush();
      if (failure.get() != null) {
        throw new IllegalStateException(
            "a camera failed: " + failure.get().getMessage(), failure.get());
      }
      long drainEnd = System.nanoTime() + options.drainTimeout().toNanos();
      for (int look = 1; ledger.unanswered() > 0 && System.nanoTime() < drainEnd; look++) {
        Thread.sleep(250);
        if (look % 4 == 0) {
          progress(ledger, start, reader);
        }
      }
      Thread.sleep(300); // answers for the last frames' other questions
      progress(ledger, start, reader);
      return ledger;
    } finally {
      for (Thread t : cameras) {
        t.interrupt();
      }
      producer.close(Duration.ofSeconds(5));
      reader.close();
      if (lag != null) {
        lag.close();
      }
    }
  }

  private void progress(Ledger ledger, long start, AnswerReader reader) {
    onProgress.accept(
        new Progress(
            Duration.ofMillis(System.currentTimeMillis() - start),
            ledger.published(),
            reader.count,
            ledger.unanswered(),
            ledger.lastLag(),
            reader.lastM));
  }

  /**
   * One camera: {@link CameraPublisher}'s pacing (fps × the profile's rate over the run, files
   * looped), each frame booked in the ledger when the broker acknowledges it.
   */
  private void publish(
      int index,
      KafkaProducer<String, FrameRecord> producer,
      SimpleMeterRegistry meters,
      Ledger ledger)
      throws Exception {
    CameraPublisher.Options camera =
        new CameraPublisher.Options(
            options.framesTopic(),
            options.cameraPrefix() + index,
            options.fps(),
            0.9f,
            true,
            0,
            Duration.ofMillis(500),
            Duration.ofSeconds(5),
            -1);
    try (CameraSource source = CameraSources.open(options.source().apply(index));
        CameraPublisher publisher =
            new CameraPublisher(camera, producer, meters, ledger::published)) {
      publisher.run(source, options.duration(), options.profile()::rate);
    }
  }

  /** Reads every answer from the moment the run starts. */
  private final class AnswerReader extends Thread {
    private final Ledger ledger;
    private final KafkaConsumer<String, byte[]> consumer;
    private final java.util.concurrent.CountDownLatch assigned =
        new java.util.concurrent.CountDownLatch(1);
    private volatile boolean closed;
    volatile long count;
    volatile double lastM = Double.NaN;

    AnswerReader(Ledger ledger) {
      super("mqt-loadtest-answers");
      setDaemon(true);
      this.ledger = ledger;
      Map<String, Object> p = new HashMap<>(client);
      p.remove(ConsumerConfig.GROUP_ID_CONFIG);
      p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
      // What a user's reader of an exactly-once engine sees: answers once their transaction
      // committed (the same as read_uncommitted for an at-least-once engine).
      p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
      this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    }

    void awaitAssigned() throws InterruptedException {
      if (!assigned.await(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("answers topic " + options.answersTopic() + " not found");
      }
    }

    @Override
    public void run() {
      try {
        List<TopicPartition> parts = new ArrayList<>();
        consumer
            .partitionsFor(options.answersTopic(), Duration.ofSeconds(30))
            .forEach(i -> parts.add(new TopicPartition(i.topic(), i.partition())));
        consumer.assign(parts);
        consumer.seekToEnd(parts);
        parts.forEach(consumer::position); // fixes the start before any frame is published
        assigned.countDown();
        while (!closed) {
          for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
            read(r);
          }
        }
      } catch (org.apache.kafka.common.errors.WakeupException e) {
        // closing
      } catch (RuntimeException e) {
        log.error("reading answers failed", e);
      } finally {
        consumer.close(Duration.ofSeconds(2));
      }
    }

    private void read(ConsumerRecord<String, byte[]> r) {
      if (r.key() == null || !r.key().startsWith(options.cameraPrefix())) {
        return;
      }
      Answer a;
      try {
        a = Answer.fromJson(r.value());
      } catch (IllegalArgumentException e) {
        log.warn("skipping a record on {}: {}", options.answersTopic(), e.getMessage());
        return;
      }
      String expected = null;
      Header truth = r.headers().lastHeader(FrameHeaders.TRUTH);
      if (truth != null) {
        try {
          Map<String, String> t =
              JSON.readValue(truth.value(), new TypeReference<Map<String, String>>() {});
          expected = t.get(a.question());
        } catch (java.io.IOException e) {
          log.debug("unreadable truth header: {}", e.toString());
        }
      }
      long now = System.currentTimeMillis();
      ledger.answered(a, expected, now);
      count++;
      lastM = a.m();
      onAnswer.accept(new Received(a, expected, now));
    }

    void close() {
      closed = true;
      consumer.wakeup();
      try {
        join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
