package io.mqtstream.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.loadtest.Harness;
import io.mqtstream.loadtest.Ledger;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mqt-stream demo}: everything in one process — an embedded broker, synthetic cameras (or a
 * video file), the engine with the shipped model — printing answers as they come and a summary.
 */
@Command(
    name = "demo",
    description =
        "Run the whole engine locally: embedded Kafka, synthetic cameras (or a video), the shipped"
            + " model; print answers live and a summary.")
final class DemoCommand implements Callable<Integer> {
  /** "Until Ctrl-C": ten years, short enough for the harness's nanosecond clock. */
  private static final Duration OPEN_ENDED = Duration.ofDays(3650);

  @Spec CommandSpec spec;

  @Option(names = "--cameras", defaultValue = "2", description = "cameras (default 2)")
  int cameras;

  @Option(names = "--fps", defaultValue = "4", description = "frames per second per camera (4)")
  double fps;

  @Option(
      names = "--duration",
      defaultValue = "40s",
      converter = Durations.Converter.class,
      description = "how long the cameras publish, e.g. 40s, 5m (default 40s); 0 = until Ctrl-C")
  Duration duration;

  @Option(
      names = "--open-ended",
      description = "run until Ctrl-C (same as --duration 0), to watch the dashboard")
  boolean openEnded;

  @Option(names = "--video", description = "a video file every camera plays (looped)")
  Path video;

  @Option(names = "--config", description = "engine YAML over the defaults")
  Path config;

  @Option(names = "--quiet", description = "no line per answer")
  boolean quiet;

  @Option(names = "--json", description = "print the summary as one JSON line last")
  boolean json;

  @Override
  public Integer call() throws Exception {
    if (openEnded || duration.isZero()) {
      duration = OPEN_ENDED;
    }
    if (cameras < 1 || !(fps > 0)) {
      throw new IllegalArgumentException("--cameras and --fps must be positive");
    }
    if (video != null && !Files.isRegularFile(video)) {
      throw new IllegalArgumentException("--video " + video + ": no such file");
    }
    EngineConfig engine = config == null ? EngineConfig.defaults() : EngineConfig.load(config);
    if (!engine.kafka().embedded()) {
      throw new ConfigException(
          "kafka.bootstrapServers", "demo runs its own broker; use `run` for a cluster");
    }
    quietEngineLogs();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try (LocalStack stack = LocalStack.start(engine, Math.max(2, cameras))) {
      if (stack.engine.httpPort() > 0) {
        err.printf("dashboard: http://localhost:%d/%n", stack.engine.httpPort());
      }
      err.printf(
          "demo: %d camera(s) at %s fps %s%n",
          cameras,
          fps,
          duration == OPEN_ENDED
              ? "until Ctrl-C"
              : "for " + duration.toString().substring(2).toLowerCase(Locale.ROOT));
      err.flush();
      Harness.Options options =
          new Harness.Options(
              cameras,
              fps,
              duration,
              Harness.Profile.CONSTANT,
              "cam-",
              video == null ? Harness.Options.synthetic() : i -> video.toString(),
              engine.kafka().framesTopic(),
              engine.kafka().answersTopic(),
              engine.kafka().groupId(),
              Duration.ofSeconds(60),
              Duration.ZERO);
      Ledger ledger =
          new Harness(
                  stack.clientProperties(),
                  options,
                  r -> {
                    if (!quiet) {
                      out.printf(
                          Locale.ROOT,
                          "%-6s #%-5d %-34s → %-7s %s m=%-3d %5d ms%n",
                          r.answer().cameraId(),
                          r.answer().frameSeq(),
                          r.answer().question(),
                          r.answer().skipped() ? "(skipped: shed under load)" : r.answer().answer(),
                          r.expected() == null || r.answer().skipped()
                              ? "          "
                              : (r.expected().equals(r.answer().answer()) ? "✓" : "✗")
                                  + String.format(Locale.ROOT, " (%-6s)", r.expected()),
                          r.answer().m(),
                          r.answer().latencyMs());
                      out.flush();
                    }
                  },
                  p -> {
                    if (quiet) {
                      err.printf(
                          Locale.ROOT,
                          "\r%5.1fs  published %d  answers %d  waiting %d  m %.0f  ",
                          p.elapsed().toMillis() / 1000.0,
                          p.published(),
                          p.answers(),
                          p.unanswered(),
                          p.lastM());
                      err.flush();
                    }
                  })
              .run();
      Ledger.Summary s = ledger.summary();
      err.println();
      err.printf(
          Locale.ROOT,
          "frames %d, answers %d, lost %d, accuracy %.1f%% (%d scored), latency p50 %.0f ms p95"
              + " %.0f ms, m min %d mean %.1f max %d%n",
          s.framesSent(),
          s.answers(),
          s.lost(),
          100 * s.accuracy(),
          s.scored(),
          s.p50(),
          s.p95(),
          s.mMin(),
          s.mMean(),
          s.mMax());
      err.flush();
      if (json) {
        out.println(summaryJson(s));
        out.flush();
      }
      quiet(
          "org.apache.kafka",
          ch.qos.logback.classic.Level
              .ERROR); // the embedded broker's shutdown chatter, after the summary
      return s.lost() == 0 ? 0 : 1;
    }
  }

  /**
   * The demo prints what matters itself (the dashboard's address, answers, the summary); the
   * engine's own INFO lines would bury it. MQT_LOG_LEVEL, when set, still decides.
   */
  private static void quietEngineLogs() {
    if (System.getenv("MQT_LOG_LEVEL") == null) {
      quiet("io.mqtstream", ch.qos.logback.classic.Level.WARN);
    }
  }

  /** Only messages at {@code level} or above from this logger on. */
  private static void quiet(String logger, ch.qos.logback.classic.Level level) {
    if (org.slf4j.LoggerFactory.getLogger(logger) instanceof ch.qos.logback.classic.Logger l) {
      l.setLevel(level);
    }
  }

  static String summaryJson(Ledger.Summary s) throws Exception {
    Map<String, Object> o = new LinkedHashMap<>();
    o.put("frames", s.framesSent());
    o.put("answers", s.answers());
    o.put("lost", s.lost());
    o.put("accuracy", round(s.accuracy()));
    Map<String, Object> latency = new LinkedHashMap<>();
    latency.put("p50", round(s.p50()));
    latency.put("p95", round(s.p95()));
    o.put("latency_ms", latency);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("min", s.mMin());
    m.put("mean", round(s.mMean()));
    m.put("max", s.mMax());
    o.put("m", m);
    return new ObjectMapper().writeValueAsString(o);
  }

  static Object round(double v) {
    return Double.isNaN(v) ? null : Math.round(v * 10_000) / 10_000.0;
  }
}
