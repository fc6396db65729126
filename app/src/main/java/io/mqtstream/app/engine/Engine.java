package io.mqtstream.app.engine;

import ai.djl.Device;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.mqtstream.app.ConfigException;
import io.mqtstream.app.EngineConfig;
import io.mqtstream.encoder.Engines;
import io.mqtstream.encoder.FrameDecodeException;
import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.ingest.Answer;
import io.mqtstream.ingest.DeadLetterPublisher;
import io.mqtstream.ingest.Frame;
import io.mqtstream.ingest.FrameRecordSerde;
import io.mqtstream.ingest.KafkaFrameSource;
import io.mqtstream.ingest.camera.CameraSource;
import io.mqtstream.reasoner.Completion;
import io.mqtstream.reasoner.Prompt;
import io.mqtstream.reasoner.PromptBatcher;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.reasoner.Sampling;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The engine: frames from Kafka → decode → encode once at M → cut to the budget's m → per-camera
 * window of the last T frames × standing questions → batched reasoner → answers to Kafka; a frame
 * is acknowledged (and its offset becomes committable) only after the broker has every answer for
 * it, so a crash loses nothing (at-least-once). Model work runs on its own single threads, never on
 * Kafka's.
 */
public final class Engine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Engine.class);

  private final EngineConfig config;
  private final MeterRegistry meters;
  private final Map<String, Object> client;
  private final MqtEncoder encoder;
  private final Reasoner reasoner;
  private final String modelName;
  private final int windowFrames;
  private final TokenBudget budget;
  private final StandingQuestions questions;
  private final LagMonitor lag;
  private final KafkaFrameSource source;
  private final DeadLetterPublisher deadLetters;
  private final KafkaProducer<String, byte[]> answers;
  private final PromptBatcher batcher;
  private final Sampling sampling;
  private final Scheduler decodeScheduler;
  private final Scheduler encodeScheduler;
  private final Scheduler reasonScheduler;
  private final Scheduler timer;
  private final Map<String, Window> windows = new HashMap<>();
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private final AtomicLong latencySumMs = new AtomicLong();
  private final AtomicLong latencyCount = new AtomicLong();
  private final AtomicLong promptAgeMaxMs = new AtomicLong();
  private long lastLookNanos; // the budget's looks run on one timer thread
  private long lastBusyNanos;
  private final Counter framesEncoded;
  private final Counter answersOut;
  private final Counter deadLettered;
  private final Timer latency;
  private final DistributionSummary tokensPerFrame;
  private final DistributionSummary encodeBatch;
  private volatile Disposable pipeline;
  private volatile Disposable budgetLoop;
  private HttpEndpoint http;

  private Engine(EngineConfig config, String bootstrap, MeterRegistry meters) throws IOException {
    this.config = config;
    this.meters = meters;
    this.client = config.kafka().clientProperties(bootstrap);
    Path dir = resolveModel(config.model().dir());
    this.modelName =
        config.model().name().isBlank() ? dir.getFileName().toString() : config.model().name();
    Device device = Engines.device(config.model().device());
    this.encoder = MqtEncoder.load(dir.resolve("encoder"));
    try {
      this.reasoner = Reasoner.load(dir.resolve("llm"), device);
    } catch (IOException | RuntimeException e) {
      encoder.close();
      throw e;
    }
    int maxFrames = reasoner.config().maxFrames();
    if (config.window().frames() > maxFrames) {
      close();
      throw new ConfigException(
          "window.frames",
          "the model takes at most " + maxFrames + " frames, was " + config.window().frames());
    }
    this.windowFrames = config.window().frames() == 0 ? maxFrames : config.window().frames();
    this.budget =
        new TokenBudget(
            TokenBudget.Settings.of(config.budget(), encoder.config().mqt().maxTokens()));
    this.sampling = Sampling.greedy(config.reasoner().maxNewTokens());
    this.questions =
        new StandingQuestions(config.questions().defaults(), client, config.kafka().queriesTopic());
    this.lag = new LagMonitor(client, config.kafka().framesTopic(), config.kafka().groupId());
    this.source = new KafkaFrameSource(config.frameSource(), client, meters);
    this.deadLetters = new DeadLetterPublisher(client, config.kafka().deadLetterTopic());
    Map<String, Object> producer = new HashMap<>(client);
    producer.put("key.serializer", StringSerializer.class.getName());
    producer.put("value.serializer", ByteArraySerializer.class.getName());
    producer.put("acks", "all");
    producer.put("linger.ms", "2");
    this.answers = new KafkaProducer<>(producer);
    this.decodeScheduler =
        Schedulers.newBoundedElastic(
            config.encoder().decodeThreads(), 4096, "mqt-decode", 60, true);
    this.encodeScheduler = Schedulers.newSingle("mqt-encoder", true);
    this.reasonScheduler = Schedulers.newSingle("mqt-reasoner", true);
    this.timer = Schedulers.newSingle("mqt-engine-timer", true);
    this.batcher =
        new PromptBatcher(
            reasoner,
            new PromptBatcher.Config(
                config.reasoner().maxBatch(),
                config.reasoner().maxWait(),
                config.reasoner().maxQueue(),
                config.reasoner().maxStepTokens()),
            reasonScheduler,
            timer,
            meters);
    this.framesEncoded = meters.counter("mqt.engine.frames");
    this.answersOut = meters.counter("mqt.engine.answers");
    this.deadLettered = meters.counter("mqt.engine.dlq", "stage", "decode");
    this.latency =
        Timer.builder("mqt.engine.latency")
            .description("capture of a frame to its answer written")
            .publishPercentileHistogram()
            .publishPercentiles(0.5, 0.95, 0.99)
            .register(meters);
    this.tokensPerFrame =
        DistributionSummary.builder("mqt.tokens.per.frame")
            .description("m of each prompt's frames")
            .publishPercentileHistogram()
            .register(meters);
    this.encodeBatch = meters.summary("mqt.encoder.batch.size");
    meters.gauge("mqt.budget.m", budget, TokenBudget::m);
    meters.gauge("mqt.budget.pressure", budget, TokenBudget::pressure);
    meters.gauge("mqt.kafka.lag", lag, LagMonitor::lag);
  }

  /**
   * Loads the model, connects to the cluster at {@code bootstrap}, and starts consuming.
   *
   * @throws ConfigException when the configuration does not fit the model or the cluster
   */
  public static Engine start(EngineConfig config, String bootstrap, MeterRegistry meters)
      throws IOException, InterruptedException {
    Engine engine = new Engine(config, bootstrap, meters);
    try {
      engine.begin();
      return engine;
    } catch (IOException | InterruptedException | RuntimeException e) {
      engine.close();
      throw e;
    }
  }

  private void begin() throws IOException, InterruptedException {
    if (config.kafka().createTopics()) {
      createTopics();
    }
    questions.start(Duration.ofSeconds(15));
    warmUp();
    lag.start(Duration.ofSeconds(1));
    budgetLoop =
        budget
            .run(this::load, timer)
            .distinctUntilChanged()
            .subscribe(
                m -> log.info("token budget: m = {} (pressure {})", m, fmt(budget.pressure())));
    int decoders = config.encoder().decodeThreads();
    pipeline =
        source
            .frames()
            .flatMapSequential(this::decode, decoders * 2, config.encoder().maxBatch())
            .bufferTimeout(config.encoder().maxBatch(), config.encoder().maxWait(), timer, true)
            .concatMap(
                batch -> Mono.fromCallable(() -> encode(batch)).subscribeOn(encodeScheduler), 1)
            .concatMapIterable(encoded -> encoded)
            .concatMapIterable(this::prompts)
            .transform(batcher::process)
            .flatMap(this::write, 1024)
            .subscribe(
                a -> {},
                e -> {
                  log.error("engine pipeline failed", e);
                  done.completeExceptionally(e);
                },
                () -> done.complete(null));
    if (config.server().port() >= 0) {
      http = HttpEndpoint.start(config.server().port(), meters, this::health);
      log.info("metrics and health on http://localhost:{}/metrics", http.port());
    }
    log.info(
        "engine started: model {} (M = {}, T = {}), policy {}, frames {} → answers {}",
        modelName,
        encoder.config().mqt().maxTokens(),
        windowFrames,
        budget.settings().policy(),
        config.kafka().framesTopic(),
        config.kafka().answersTopic());
  }

  /**
   * One full-size encoder batch and one full reasoner batch at M on blank frames before the first
   * real frame: the first runs of a model are several times slower (allocator, kernels), and
   * without this the first seconds of a stream pay for it.
   */
  private void warmUp() {
    long t0 = System.nanoTime();
    int size = encoder.config().vision().imageSize();
    List<byte[]> blank = new ArrayList<>();
    for (int i = 0; i < config.encoder().maxBatch(); i++) {
      blank.add(new byte[size * size * 3]);
    }
    List<VisualTokens> tokens = encoder.encodeDecoded(blank);
    List<VisualTokens> window = tokens.subList(0, Math.min(windowFrames, tokens.size()));
    List<Prompt> prompts = new ArrayList<>();
    String question =
        config.questions().defaults().isEmpty() ? "warm up" : config.questions().defaults().get(0);
    for (int i = 0; i < config.reasoner().maxBatch(); i++) {
      prompts.add(reasoner.prompt("warm-up-" + i, window, question, sampling, null));
    }
    reasoner.generate(prompts);
    log.info("models warmed up in {} ms", (System.nanoTime() - t0) / 1_000_000);
  }

  private void createTopics() throws InterruptedException {
    Map<String, Object> p = new HashMap<>(client);
    try (Admin admin = Admin.create(p)) {
      List<NewTopic> wanted =
          List.of(
              new NewTopic(
                  config.kafka().answersTopic(),
                  java.util.Optional.empty(),
                  java.util.Optional.empty()),
              new NewTopic(
                  config.kafka().deadLetterTopic(),
                  java.util.Optional.empty(),
                  java.util.Optional.empty()),
              new NewTopic(
                      config.kafka().queriesTopic(),
                      java.util.Optional.of(1),
                      java.util.Optional.empty())
                  .configs(Map.of("cleanup.policy", "compact")));
      for (NewTopic t : wanted) {
        try {
          admin.createTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
          log.info("created topic {}", t.name());
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) {
            throw new IllegalStateException("cannot create topic " + t.name(), e.getCause());
          }
        } catch (TimeoutException e) {
          throw new IllegalStateException("cannot create topic " + t.name() + ": timed out", e);
        }
      }
    }
  }

  // ---- stages -------------------------------------------------------------------------------

  private record Decoded(Frame frame, byte[] pixels) {}

  private record Encoded(Frame frame, VisualTokens tokens) {}

  /** One frame's share of the answers: acknowledged once all its answers are on the broker. */
  private static final class Ticket {
    final Frame frame;
    final AtomicInteger pending;
    final int m;
    final int frames;

    Ticket(Frame frame, int answers, int m, int frames) {
      this.frame = frame;
      this.pending = new AtomicInteger(answers);
      this.m = m;
      this.frames = frames;
    }
  }

  private record Asked(Ticket ticket, String question) {}

  /** A camera's last frames since its last scene start. */
  private static final class Window {
    final ArrayDeque<VisualTokens> frames = new ArrayDeque<>();
    long position = -1; // index of the newest frame in its scene
  }

  private Mono<Decoded> decode(Frame frame) {
    return Mono.fromCallable(
            () -> new Decoded(frame, encoder.preprocessor().bgrPixels(frame.record())))
        .subscribeOn(decodeScheduler)
        .onErrorResume(FrameDecodeException.class, e -> deadLetter(frame, e));
  }

  private Mono<Decoded> deadLetter(Frame frame, FrameDecodeException error) {
    log.warn("frame {} to {}: {}", frame, deadLetters.topic(), error.getMessage());
    List<Header> headers = new ArrayList<>();
    frame.headers().forEach((k, v) -> headers.add(new RecordHeader(k, v)));
    byte[] value = new FrameRecordSerde().write(frame.record());
    return Mono.fromFuture(
            () ->
                deadLetters.publish(
                    frame.cameraId().getBytes(StandardCharsets.UTF_8),
                    value,
                    headers,
                    new DeadLetterPublisher.SourcePosition(
                        frame.topic(), frame.partition(), frame.offset()),
                    error))
        .doOnNext(
            md -> {
              deadLettered.increment();
              frame.ack();
            })
        .then(Mono.empty());
  }

  private List<Encoded> encode(List<Decoded> batch) {
    List<VisualTokens> tokens = encoder.encodeDecoded(batch.stream().map(Decoded::pixels).toList());
    encodeBatch.record(batch.size());
    framesEncoded.increment(batch.size());
    List<Encoded> out = new ArrayList<>(batch.size());
    for (int i = 0; i < batch.size(); i++) {
      out.add(new Encoded(batch.get(i).frame(), tokens.get(i)));
    }
    return out;
  }

  /** The frame joins its camera's window; if it is a frame to ask on, one prompt per question. */
  private List<Prompt> prompts(Encoded e) {
    Frame frame = e.frame();
    String camera = frame.cameraId();
    Window w = windows.computeIfAbsent(camera, c -> new Window());
    if (frame.header(CameraSource.SCENE_START).map("true"::equals).orElse(false)) {
      w.frames.clear();
      w.position = -1;
    }
    w.frames.addLast(e.tokens());
    w.position++;
    while (w.frames.size() > windowFrames) {
      w.frames.removeFirst();
    }
    List<String> asked = questions.forCamera(camera);
    if (asked.isEmpty() || (w.position + 1) % config.questions().every() != 0) {
      frame.ack();
      return List.of();
    }
    int m = budget.m(camera);
    List<VisualTokens> cut = new ArrayList<>(w.frames.size());
    for (VisualTokens t : w.frames) {
      cut.add(t.tokens(m));
    }
    tokensPerFrame.record(m);
    long age = System.currentTimeMillis() - frame.record().captureMicros() / 1000;
    promptAgeMaxMs.accumulateAndGet(age, Math::max);
    Ticket ticket = new Ticket(frame, asked.size(), m, cut.size());
    List<Prompt> out = new ArrayList<>(asked.size());
    for (String q : asked) {
      out.add(
          reasoner.prompt(
              camera + "#" + frame.record().sequence(), cut, q, sampling, new Asked(ticket, q)));
    }
    return out;
  }

  private Mono<Answer> write(Completion c) {
    Asked asked = (Asked) c.prompt().context();
    Ticket t = asked.ticket();
    Frame frame = t.frame;
    long frameTs = frame.record().captureMicros() / 1000;
    long latencyMs = Math.max(0, System.currentTimeMillis() - frameTs);
    Answer answer =
        new Answer(
            frame.cameraId(),
            frame.record().sequence(),
            frameTs,
            asked.question(),
            c.text(),
            t.m,
            t.frames,
            latencyMs,
            modelName);
    ProducerRecord<String, byte[]> record =
        new ProducerRecord<>(
            config.kafka().answersTopic(), null, frame.cameraId(), answer.toJson());
    frame.headers().forEach((k, v) -> record.headers().add(k, v)); // ground truth travels along
    return Mono.<Answer>create(
            sink ->
                answers.send(
                    record,
                    (md, ex) -> {
                      if (ex != null) {
                        sink.error(ex);
                      } else {
                        sink.success(answer);
                      }
                    }))
        .doOnNext(
            a -> {
              answersOut.increment();
              long now = System.currentTimeMillis();
              latency.record(Math.max(0, now - frameTs), TimeUnit.MILLISECONDS);
              latencySumMs.addAndGet(now - frameTs);
              latencyCount.incrementAndGet();
              if (t.pending.decrementAndGet() == 0) {
                frame.ack();
              }
            });
  }

  // ---- budget, health, lifecycle -------------------------------------------------------------

  /**
   * The budget's look: latency is the larger of the answers' mean capture-to-answer latency and the
   * oldest frame turned into prompts, both over the last interval only (an idle interval reads
   * zero, so m can climb back when the load goes). The frame age leads the answer latency: a
   * backlog shows there before any late answer comes out.
   */
  private TokenBudget.Load load() {
    long n = latencyCount.getAndSet(0);
    long sum = latencySumMs.getAndSet(0);
    long answered = n > 0 ? sum / n : 0;
    long waited = promptAgeMaxMs.getAndSet(0);
    PromptBatcher.Signals s = batcher.signals();
    long now = System.nanoTime();
    long busy = s.busyNanos();
    double utilization =
        lastLookNanos == 0
            ? 0
            : Math.min(1.0, (double) (busy - lastBusyNanos) / Math.max(1, now - lastLookNanos));
    lastLookNanos = now;
    lastBusyNanos = busy;
    return new TokenBudget.Load(
        Duration.ofMillis(Math.max(answered, waited)),
        s.lastStepLatency(),
        s.queueDepth(),
        config.reasoner().maxQueue(),
        lag.lag(),
        utilization);
  }

  private HttpEndpoint.Health health() {
    boolean up = !done.isDone();
    return new HttpEndpoint.Health(
        up,
        Map.of(
            "status", up ? "UP" : "DOWN",
            "model", modelName,
            "m", budget.m(),
            "lag", lag.lag(),
            "inFlight", source.stats().inFlight()));
  }

  /** The token budget (its current m, its settings). */
  public TokenBudget budget() {
    return budget;
  }

  /** The frame source's counters. */
  public KafkaFrameSource.Stats sourceStats() {
    return source.stats();
  }

  /** The /metrics and /health port, or -1 when off. */
  public int httpPort() {
    return http == null ? -1 : http.port();
  }

  /** Stops polling, lets in-flight frames finish and commits; see {@link #await}. */
  public void stop() {
    source.stop();
  }

  /** Waits for the pipeline to end; true if it ended (normally or not) within the timeout. */
  public boolean await(Duration timeout) throws InterruptedException {
    try {
      done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      return true;
    } catch (TimeoutException e) {
      return false;
    }
    return true;
  }

  /** The pipeline's end: completes on a graceful stop, fails with the error that ended it. */
  public CompletableFuture<Void> done() {
    return done;
  }

  /**
   * Ends the engine at once, as a crash would: in-flight work is dropped, nothing more is
   * acknowledged (what was already acknowledged may still be committed).
   */
  public void halt() {
    Disposable p = pipeline;
    if (p != null) {
      p.dispose();
    }
    done.complete(null);
    close();
  }

  /** Graceful stop (bounded by the drain timeout), then every resource closed. */
  @Override
  public void close() {
    Disposable p = pipeline;
    if (p != null && !done.isDone()) {
      stop();
      try {
        if (!await(config.ingest().drainTimeout().plusSeconds(5))) {
          log.warn("pipeline did not drain in time; cancelling");
          p.dispose();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.dispose();
      }
    }
    Disposable b = budgetLoop;
    if (b != null) {
      b.dispose();
    }
    if (http != null) {
      http.close();
    }
    closeQuietly(source);
    closeQuietly(questions);
    closeQuietly(lag);
    closeQuietly(deadLetters);
    if (answers != null) {
      answers.close(Duration.ofSeconds(5));
    }
    for (Scheduler s : new Scheduler[] {decodeScheduler, encodeScheduler, reasonScheduler, timer}) {
      if (s != null) {
        s.dispose();
      }
    }
    closeQuietly(reasoner);
    closeQuietly(encoder);
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      log.warn("closing {} failed: {}", c.getClass().getSimpleName(), e.toString());
    }
  }

  private static String fmt(double v) {
    return String.format(java.util.Locale.ROOT, "%.2f", v);
  }

  /**
   * A model folder: as given if it exists, else looked up from the working directory's parents (so
   * {@code models/mqt-tiny} works from a module folder too).
   */
  static Path resolveModel(String dir) {
    Path p = Path.of(dir);
    if (Files.isDirectory(p) || p.isAbsolute()) {
      if (!Files.isDirectory(p)) {
        throw new ConfigException("model.dir", "no such folder: " + p);
      }
      return p;
    }
    for (Path up = Path.of("").toAbsolutePath(); up != null; up = up.getParent()) {
      if (Files.isDirectory(up.resolve(dir))) {
        return up.resolve(dir);
      }
    }
    throw new ConfigException(
        "model.dir", "no folder " + dir + " under " + Path.of("").toAbsolutePath() + " or above");
  }
}
