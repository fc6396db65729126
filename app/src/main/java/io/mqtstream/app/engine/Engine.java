package io.mqtstream.app.engine;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.mqtstream.app.ConfigException;
import io.mqtstream.app.EngineConfig;
import io.mqtstream.app.dashboard.Dashboard;
import io.mqtstream.app.dashboard.DashboardHttp;
import io.mqtstream.encoder.FrameEncoder;
import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.ingest.DeadLetterPublisher;
import io.mqtstream.ingest.Frame;
import io.mqtstream.ingest.KafkaFrameSource;
import io.mqtstream.ingest.LagMonitor;
import io.mqtstream.llava.MqtLlava;
import io.mqtstream.nn.Engines;
import io.mqtstream.reasoner.Completion;
import io.mqtstream.reasoner.Prompt;
import io.mqtstream.reasoner.PromptBatcher;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.reasoner.Sampling;
import io.mqtstream.wire.Answer;
import io.mqtstream.wire.FrameHeaders;
import io.mqtstream.wire.FrameRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The engine, a pipeline of named stages: frames from Kafka ({@link KafkaFrameSource}) → decode,
 * dead-lettering what does not decode ({@link FrameDecoder}) → encode once at M, in batches ({@link
 * MqtEncoder}) → each camera's window of the last T frames ({@link CameraWindows}) × its standing
 * questions ({@link StandingQuestions}), cut to the budget's m ({@link TokenBudget}) → batched
 * reasoner ({@link PromptBatcher}) → answers to Kafka, a frame acknowledged once the broker has all
 * its answers ({@link AnswerWriter}). The budget looks at the load every interval ({@link
 * LoadSampler}, {@link LagMonitor}). Model work runs on its own single threads, never on Kafka's.
 */
public final class Engine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Engine.class);
  private static final ObjectMapper TRUTH = new ObjectMapper();

  private final EngineConfig config;
  private final MeterRegistry meters;
  private final Map<String, Object> client;
  private final String modelName;
  private final Sampling sampling;
  private final int windowFrames;
  private final Closer resources = new Closer();
  private final FrameEncoder encoder;
  private final Reasoner reasoner;
  private final TokenBudget budget;
  private final CameraWindows<VisualTokens> windows;
  private final LoadSampler load;
  private final StandingQuestions questions;
  private final LagMonitor lag;
  private final KafkaFrameSource source;
  private final DeadLetterPublisher deadLetters;
  private final FrameDecoder decoder;
  private final AnswerWriter answers;
  private final PromptBatcher batcher;
  private final Scheduler encodeScheduler;
  private final Scheduler timer;
  private final Dashboard dashboard;
  private final DashboardHttp dashboardHttp;
  private final Counter framesEncoded;
  private final Counter framesShed;
  private final Map<String, java.util.concurrent.atomic.AtomicLong> asks =
      new java.util.concurrent.ConcurrentHashMap<>();
  private final DistributionSummary tokensPerFrame;
  private final DistributionSummary encodeBatch;
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private volatile Disposable pipeline;
  private volatile Disposable budgetLoop;
  private volatile Disposable dashboardTicks;
  private HttpEndpoint http;

  /** Opens everything in order; whatever was opened is closed again if a later step fails. */
  private Engine(EngineConfig config, String bootstrap, MeterRegistry meters) throws IOException {
    this.config = config;
    this.meters = meters;
    this.client = config.kafka().clientProperties(bootstrap);
    Path dir = resolveModel(config.model().dir());
    this.modelName =
        config.model().name().isBlank() ? dir.getFileName().toString() : config.model().name();
    this.sampling = Sampling.greedy(config.reasoner().maxNewTokens());
    try {
      Device device = Engines.device(config.model().device());
      if (isLlava(dir)) { // a real MQT-LLaVA checkpoint: CLIP tower → reference MQT → LLaMA
        MqtLlava llava =
            MqtLlava.load(
                dir,
                config.model().vision().isBlank() ? null : resolveModel(config.model().vision()),
                device,
                MqtLlava.dtype(config.model().dtype()));
        this.reasoner = resources.add(llava.reasoner());
        this.encoder = resources.add(llava.frameEncoder()); // owns the model the reasoner borrows
      } else {
        if (!config.model().dtype().equals("fp32")) {
          throw new ConfigException(
              "model.dtype", "mqt-tiny runs in fp32 (fp16 is for MQT-LLaVA checkpoints)");
        }
        this.encoder = resources.add(MqtEncoder.load(dir.resolve("encoder")));
        this.reasoner = resources.add(Reasoner.load(dir.resolve("llm"), device));
      }
      this.windowFrames = windowFrames(config, reasoner.config().maxFrames());
      this.windows = new CameraWindows<>(windowFrames, config.questions().every());
      this.budget = new TokenBudget(TokenBudget.Settings.of(config.budget(), encoder.maxTokens()));
      this.load = new LoadSampler(config.reasoner().maxQueue(), System::nanoTime);
      this.timer = resources.add(Schedulers.newSingle("mqt-engine-timer", true));
      this.encodeScheduler = resources.add(Schedulers.newSingle("mqt-encoder", true));
      Scheduler reasonScheduler = resources.add(Schedulers.newSingle("mqt-reasoner", true));
      Scheduler decodeScheduler =
          resources.add(
              Schedulers.newBoundedElastic(
                  config.encoder().decodeThreads(), 4096, "mqt-decode", 60, true));
      this.questions =
          resources.add(
              new StandingQuestions(
                  config.questions().defaults(), client, config.kafka().queriesTopic()));
      this.lag =
          resources.add(
              new LagMonitor(client, config.kafka().framesTopic(), config.kafka().groupId()));
      this.deadLetters =
          resources.add(new DeadLetterPublisher(client, config.kafka().deadLetterTopic()));
      this.decoder = new FrameDecoder(encoder::pixels, deadLetters, decodeScheduler, meters);
      this.answers =
          resources.add(
              new AnswerWriter(
                  answersProducer(client),
                  config.kafka().answersTopic(),
                  modelName,
                  meters,
                  System::currentTimeMillis));
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
      this.source = resources.add(new KafkaFrameSource(config.frameSource(), client, meters));
      this.dashboard = new Dashboard(System::currentTimeMillis);
      this.dashboardHttp =
          resources.add(
              new DashboardHttp(
                  dashboard,
                  resources.add(
                      new QueriesTopicQuestions(questions, client, config.kafka().queriesTopic())),
                  config.server().token()));
    } catch (IOException | RuntimeException e) {
      resources.close();
      throw e;
    }
    this.framesEncoded = meters.counter("mqt.engine.frames");
    this.framesShed = meters.counter("mqt.engine.frames.shed");
    this.tokensPerFrame =
        DistributionSummary.builder("mqt.tokens.per.frame")
            .description("m of each prompt's frames")
            .publishPercentileHistogram()
            .register(meters);
    this.encodeBatch = meters.summary("mqt.encoder.batch.size");
    meters.gauge("mqt.budget.m", budget, TokenBudget::m);
    meters.gauge("mqt.budget.pressure", budget, TokenBudget::pressure);
    meters.gauge("mqt.budget.stride", budget, TokenBudget::stride);
    io.micrometer.core.instrument.FunctionCounter.builder(
            "mqt.budget.failed.steps", budget, TokenBudget::failedSteps)
        .description("steps up (m up or stride down) the load cut back: each doubles the next wait")
        .register(meters);
    meters.gauge("mqt.kafka.lag", lag, LagMonitor::lag);
  }

  private static int windowFrames(EngineConfig config, int maxFrames) {
    int frames = config.window().frames();
    if (frames > maxFrames) {
      throw new ConfigException(
          "window.frames", "the model takes at most " + maxFrames + " frames, was " + frames);
    }
    return frames == 0 ? maxFrames : frames;
  }

  private static KafkaProducer<String, byte[]> answersProducer(Map<String, Object> client) {
    Map<String, Object> p = new HashMap<>(client);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "2");
    return new KafkaProducer<>(p);
  }

  /**
   * Loads the model, connects to the cluster at {@code bootstrap}, and starts consuming.
   *
   * @throws ConfigException when the configuration does not fit the model or the cluster
   */
  public static Engine start(EngineConfig config, String bootstrap, MeterRegistry meters)
      throws IOException, InterruptedException {
    // the cluster first: wrong credentials fail in seconds, before the models load
    TopicAdmin.checkReachable(config.kafka().clientProperties(bootstrap), Duration.ofSeconds(30));
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
      TopicAdmin.ensureTopics(client, config.kafka());
    }
    deadLetters.awaitReady();
    questions.start(Duration.ofSeconds(15));
    warmUp();
    lag.start(Duration.ofSeconds(1));
    budgetLoop =
        budget
            .run(this::sampleLoad, timer)
            .map(m -> List.of(m, budget.stride()))
            .distinctUntilChanged()
            .subscribe(
                ms ->
                    log.info(
                        "token budget: m = {}, asking on every {} frame(s) (pressure {})",
                        ms.get(0),
                        ms.get(1),
                        fmt(budget.pressure())));
    pipeline =
        source
            .frames()
            .flatMapSequential(
                decoder::decode, config.encoder().decodeThreads() * 2, config.encoder().maxBatch())
            .bufferTimeout(config.encoder().maxBatch(), config.encoder().maxWait(), timer, true)
            .concatMap(
                batch -> Mono.fromCallable(() -> encode(batch)).subscribeOn(encodeScheduler), 1)
            .concatMapIterable(encoded -> encoded)
            .concatMapIterable(this::prompts)
            .publish(
                asked ->
                    Flux.merge(
                        asked
                            .ofType(Asking.class)
                            .map(Asking::prompt)
                            .transform(batcher::process)
                            .flatMap(this::write, 1024),
                        asked
                            .ofType(Shed.class)
                            .flatMap(s -> answers.skip(s.ticket(), s.question()), 1024)),
                // a small hand-over buffer: prompts waiting here are invisible to the budget
                32)
            .subscribe(
                a -> {},
                e -> {
                  log.error("engine pipeline failed", e);
                  done.completeExceptionally(e);
                },
                () -> done.complete(null));
    dashboardTicks =
        Flux.interval(Duration.ofSeconds(1), timer).subscribe(t -> dashboard.tick(totals()));
    if (config.server().port() >= 0) {
      http =
          HttpEndpoint.start(config.server().port(), meters, this::health, dashboardHttp::register);
      log.info(
          "dashboard on http://localhost:{}/ (metrics at /metrics, health at /health)",
          http.port());
    }
    log.info(
        "engine started: model {} (M = {}, T = {}), policy {}, frames {} → answers {}",
        modelName,
        encoder.maxTokens(),
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
    List<byte[]> blank = new ArrayList<>();
    for (int i = 0; i < config.encoder().maxBatch(); i++) {
      blank.add(encoder.blank());
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

  // ---- stages -------------------------------------------------------------------------------

  private record Encoded(Frame frame, VisualTokens tokens) {}

  private record Asked(AnswerWriter.Ticket ticket, String question) {}

  /** What a frame's window leads to: a prompt per question, or, when shed, a skip per question. */
  private sealed interface Work permits Asking, Shed {}

  private record Asking(Prompt prompt) implements Work {}

  private record Shed(AnswerWriter.Ticket ticket, String question) implements Work {}

  private List<Encoded> encode(List<FrameDecoder.Decoded> batch) {
    List<VisualTokens> tokens =
        encoder.encodeDecoded(batch.stream().map(FrameDecoder.Decoded::pixels).toList());
    encodeBatch.record(batch.size());
    framesEncoded.increment(batch.size());
    List<Encoded> out = new ArrayList<>(batch.size());
    for (int i = 0; i < batch.size(); i++) {
      Frame frame = batch.get(i).frame();
      out.add(new Encoded(frame, tokens.get(i)));
      if (frame.record().encoding() == FrameRecord.Encoding.JPEG) {
        dashboard.frame(frame.cameraId(), frame.record().sequence(), frame.record().payload());
      }
    }
    return out;
  }

  /**
   * The frame joins its camera's window; if it is a frame to ask on, one prompt per question, or,
   * when the budget sheds load and this is not the camera's k-th asked frame, one skip per
   * question.
   */
  private List<Work> prompts(Encoded e) {
    Frame frame = e.frame();
    String camera = frame.cameraId();
    boolean sceneStart = frame.header(FrameHeaders.SCENE_START).map("true"::equals).orElse(false);
    Optional<List<VisualTokens>> window = windows.add(camera, e.tokens(), sceneStart);
    List<String> asked = questions.forCamera(camera);
    if (window.isEmpty() || asked.isEmpty()) {
      frame.ack();
      return List.of();
    }
    long captureMillis = frame.record().captureMicros() / 1000;
    long nth =
        asks.computeIfAbsent(camera, c -> new java.util.concurrent.atomic.AtomicLong())
            .getAndIncrement();
    int stride = budget.stride();
    boolean shed = stride > 1 && nth % stride != 0;
    int m = shed ? 0 : budget.m(camera);
    AnswerWriter.Ticket ticket =
        AnswerWriter.Ticket.of(
            camera,
            frame.record().sequence(),
            captureMillis,
            frame.headers(),
            m,
            window.get().size(),
            asked.size(),
            frame::ack,
            frame.exactlyOnce() ? frame::ackWith : null);
    List<Work> out = new ArrayList<>(asked.size());
    load.reached(System.currentTimeMillis() - captureMillis);
    if (shed) {
      framesShed.increment();
      asked.forEach(q -> out.add(new Shed(ticket, q)));
      return out;
    }
    List<VisualTokens> cut = window.get().stream().map(t -> t.tokens(m)).toList();
    tokensPerFrame.record(m);
    for (String q : asked) {
      out.add(
          new Asking(
              reasoner.prompt(
                  camera + "#" + frame.record().sequence(),
                  cut,
                  q,
                  sampling,
                  new Asked(ticket, q))));
    }
    return out;
  }

  private Mono<Answer> write(Completion c) {
    Asked asked = (Asked) c.prompt().context();
    return answers
        .write(asked.ticket(), asked.question(), c.text())
        .doOnNext(
            a -> {
              load.answered(System.currentTimeMillis() - a.frameTs());
              dashboard.answer(a, truth(asked.ticket().headers(), a.question()));
            });
  }

  /** The camera's expected answer to a question, from the frame's truth header, if it has one. */
  private static Optional<String> truth(Map<String, byte[]> headers, String question) {
    byte[] truth = headers.get(FrameHeaders.TRUTH);
    if (truth == null) {
      return Optional.empty();
    }
    try {
      return Optional.ofNullable(TRUTH.readTree(truth).path(question).textValue());
    } catch (IOException e) {
      return Optional.empty(); // a camera's malformed truth is its own business
    }
  }

  private Dashboard.Totals totals() {
    PromptBatcher.Signals s = batcher.signals();
    return new Dashboard.Totals(
        budget.m(),
        lag.lag(),
        (long) framesEncoded.count(),
        (long) meters.counter("mqt.engine.answers").count(),
        source.stats().deadLettered() + (long) meters.counter("mqt.dlq", "stage", "decode").count(),
        s.busyNanos());
  }

  // ---- budget, health, lifecycle -------------------------------------------------------------

  private TokenBudget.Load sampleLoad() {
    PromptBatcher.Signals s = batcher.signals();
    return load.sample(s.lastStepLatency(), s.queueDepth(), s.busyNanos(), lag.lag());
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

  /** The standing questions a camera's frames are asked now (its own, or the defaults). */
  public List<String> questions(String cameraId) {
    return questions.forCamera(cameraId);
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
    for (Disposable d : new Disposable[] {budgetLoop, dashboardTicks}) {
      if (d != null) {
        d.dispose();
      }
    }
    if (http != null) {
      http.close();
    }
    resources.close();
  }

  private static String fmt(double v) {
    return String.format(java.util.Locale.ROOT, "%.2f", v);
  }

  /** An MQT-LLaVA folder: a Hugging Face config.json naming a vision tower. */
  private static boolean isLlava(Path dir) {
    Path config = dir.resolve("config.json");
    try {
      return Files.isRegularFile(config)
          && new ObjectMapper().readTree(config.toFile()).has("mm_vision_tower");
    } catch (IOException e) {
      throw new ConfigException("model.dir", config + ": " + e.getMessage(), e);
    }
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
