package io.mqtstream.app;

import io.mqtstream.loadtest.Harness;
import io.mqtstream.loadtest.Ledger;
import io.mqtstream.loadtest.Report;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mqt-stream loadtest}: N synthetic cameras at F fps against the engine (embedded, or a
 * cluster and engine elsewhere), measuring latency, throughput, lag, m over time, accuracy and
 * loss; optionally the most cameras each policy serves within a p95 latency bound.
 */
@Command(
    name = "loadtest",
    description =
        "Drive synthetic cameras into the engine and measure latency, lag, m, accuracy and loss.")
final class LoadtestCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--cameras", defaultValue = "4", description = "cameras (default 4)")
  int cameras;

  @Option(names = "--fps", defaultValue = "2", description = "frames/s per camera (default 2)")
  double fps;

  @Option(
      names = "--duration",
      defaultValue = "60s",
      converter = Durations.Converter.class,
      description = "how long the cameras publish (default 60s)")
  Duration duration;

  @Option(
      names = "--profile",
      defaultValue = "constant",
      description = "constant, step (fps/4 then fps) or ramp (fps/10 up to fps)")
  String profile;

  @Option(
      names = "--policy",
      defaultValue = "adaptive",
      description =
          "adaptive, fixed, both (= fixed,adaptive), or a comma list of runs, each adaptive,"
              + " fixed or NAME=FILE (the budget: section of an engine YAML, e.g."
              + " floor-shed=configs/budget/floor-16-shed.yaml); run one after the other, reported"
              + " side by side")
  String policy;

  @Option(
      names = "--bootstrap",
      description = "an external cluster whose engine is already running (no embedded engine)")
  String bootstrap;

  @Option(names = "--config", description = "engine YAML (topics, group, and the embedded engine)")
  Path config;

  @Option(
      names = "--drain",
      defaultValue = "60s",
      converter = Durations.Converter.class,
      description = "after publishing, how long to wait for answers before counting frames lost")
  Duration drain;

  @Option(
      names = "--warmup",
      defaultValue = "10s",
      converter = Durations.Converter.class,
      description =
          "first part of the run left out of latency, m and accuracy (its frames must still be"
              + " answered); default 10s")
  Duration warmup;

  @Option(
      names = "--find-max",
      description = "find the most cameras whose p95 latency stays under --p95-target")
  boolean findMax;

  @Option(
      names = "--p95-target",
      defaultValue = "1s",
      converter = Durations.Converter.class,
      description = "latency bound of --find-max (default 1s)")
  Duration p95Target;

  @Option(
      names = "--deadline",
      converter = Durations.Converter.class,
      description =
          "an answer read back later than this after its frame's capture is late: timely accuracy"
              + " counts right answers within it (default: --p95-target)")
  Duration deadline;

  @Option(names = "--out", description = "report folder (default target/loadtest/<time>)")
  Path out;

  @Option(names = "--json", description = "print the result as one JSON line last")
  boolean json;

  private PrintWriter stdout;
  private PrintWriter stderr;

  @Override
  public Integer call() throws Exception {
    stdout = spec.commandLine().getOut();
    stderr = spec.commandLine().getErr();
    Harness.Profile shape;
    try {
      shape = Harness.Profile.valueOf(profile.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--profile must be constant, step or ramp");
    }
    if (cameras < 1 || !(fps > 0)) {
      throw new IllegalArgumentException("--cameras and --fps must be positive");
    }
    EngineConfig engine = config == null ? EngineConfig.defaults() : EngineConfig.load(config);
    Map<String, EngineConfig.Budget> policies = budgets(policy, engine.budget());
    if (bootstrap != null && (policies.size() > 1 || findMax)) {
      throw new IllegalArgumentException(
          "--policy both and --find-max need the embedded engine (leave out --bootstrap)");
    }
    Path dir =
        out != null
            ? out
            : Path.of(
                "target",
                "loadtest",
                LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    Files.createDirectories(dir);
    if (findMax) {
      return findMax(engine, policies, shape, dir);
    }
    List<Report.Column> runs = new ArrayList<>();
    for (Map.Entry<String, EngineConfig.Budget> p : policies.entrySet()) {
      stderr.printf(
          "loadtest: %s, %d cameras × %s fps, %s, %s%n",
          p.getKey(), cameras, fps, duration, profile);
      runs.add(new Report.Column(p.getKey(), run(engine, p.getValue(), cameras, shape)));
    }
    String table = Report.markdown(runs);
    Report.charts(dir, runs);
    String command = commandLine();
    Files.writeString(
        dir.resolve("report.md"),
        "# Load test\n\n```bash\n"
            + command
            + "\n```\n\n"
            + String.format(
                Locale.ROOT,
                "%d cameras × %s fps, %s, profile %s; frames of the first %s are answered and"
                    + " counted for loss but left out of latency, m and accuracy.%n%n",
                cameras,
                fps,
                duration,
                profile,
                warmup.compareTo(duration) < 0 ? warmup : Duration.ZERO)
            + table
            + "\n![latency](latency.png)\n![m](m.png)\n![lag](lag.png)\n");
    stdout.println();
    stdout.print(table);
    stdout.println("report, charts: " + dir);
    if (json) {
      if (runs.size() == 1) {
        stdout.println(Report.json(runs.get(0).ledger().summary()));
      } else {
        StringBuilder b = new StringBuilder("{");
        for (int i = 0; i < runs.size(); i++) {
          b.append(i == 0 ? "" : ",")
              .append('"')
              .append(runs.get(i).name())
              .append("\":")
              .append(Report.json(runs.get(i).ledger().summary()));
        }
        stdout.println(b.append('}'));
      }
    }
    stdout.flush();
    return runs.stream().allMatch(r -> r.ledger().summary().lost() == 0) ? 0 : 1;
  }

  /**
   * The runs {@code --policy} names, in order: name → the budget the embedded engine runs with.
   *
   * @throws IllegalArgumentException naming a run that is none of the accepted forms
   */
  static Map<String, EngineConfig.Budget> budgets(String option, EngineConfig.Budget base) {
    Map<String, EngineConfig.Budget> out = new LinkedHashMap<>();
    for (String run : option.split(",")) {
      String r = run.trim();
      int eq = r.indexOf('=');
      if (r.equals("both")) {
        out.put("fixed", base.withPolicy("fixed"));
        out.put("adaptive", base.withPolicy("adaptive"));
      } else if (r.equals("adaptive") || r.equals("fixed")) {
        out.put(r, base.withPolicy(r));
      } else if (eq > 0 && eq < r.length() - 1) {
        out.put(r.substring(0, eq), EngineConfig.load(Path.of(r.substring(eq + 1))).budget());
      } else {
        throw new IllegalArgumentException(
            "--policy: each run must be adaptive, fixed, both or NAME=FILE, was '" + r + "'");
      }
    }
    return out;
  }

  /** One run: an embedded broker and engine under {@code budget}, or the external cluster. */
  private Ledger run(
      EngineConfig engine, EngineConfig.Budget budget, int cams, Harness.Profile shape)
      throws Exception {
    Harness.Options options =
        new Harness.Options(
            cams,
            fps,
            duration,
            shape,
            "lt-",
            Harness.Options.synthetic(),
            engine.kafka().framesTopic(),
            engine.kafka().answersTopic(),
            engine.kafka().groupId(),
            drain,
            warmup.compareTo(duration) < 0 ? warmup : Duration.ZERO,
            deadline == null ? p95Target : deadline);
    if (bootstrap != null) {
      Map<String, Object> client = engine.kafka().clientProperties(bootstrap);
      return harness(client, options);
    }
    EngineConfig c = engine.withBudget(budget);
    try (LocalStack stack = LocalStack.start(c, Math.max(2, Math.min(cams, 8)))) {
      return harness(stack.clientProperties(), options);
    }
  }

  private Ledger harness(Map<String, Object> client, Harness.Options options)
      throws InterruptedException {
    Ledger ledger =
        new Harness(
                client,
                options,
                r -> {},
                p -> {
                  stderr.printf(
                      Locale.ROOT,
                      "\r%6.1fs  sent %d  answers %d  waiting %d  lag %s  m %s   ",
                      p.elapsed().toMillis() / 1000.0,
                      p.published(),
                      p.answers(),
                      p.unanswered(),
                      p.lag() < 0 ? "–" : Long.toString(p.lag()),
                      Double.isNaN(p.lastM())
                          ? "–"
                          : String.format(Locale.ROOT, "%.0f", p.lastM()));
                  stderr.flush();
                })
            .run();
    stderr.println();
    return ledger;
  }

  /**
   * Doubles the cameras until a run misses the bound (p95 over the target, or frames lost), then
   * bisects between the last pass and the first miss.
   */
  private int findMax(
      EngineConfig engine,
      Map<String, EngineConfig.Budget> policies,
      Harness.Profile shape,
      Path dir)
      throws Exception {
    Map<String, Integer> best = new LinkedHashMap<>();
    StringBuilder log =
        new StringBuilder(
            "| policy | cameras | p95 (ms) | lost | mean m | accuracy | within bound |\n"
                + "| --- | --- | --- | --- | --- | --- | --- |\n");
    for (String p : policies.keySet()) {
      int pass = 0;
      int fail = -1;
      int n = 1;
      while (fail < 0 || fail - pass > 1) {
        int tryN = fail < 0 ? n : (pass + fail) / 2;
        stderr.printf("find-max: %s, %d cameras × %s fps%n", p, tryN, fps);
        Ledger.Summary s = run(engine, policies.get(p), tryN, shape).summary();
        boolean ok = s.lost() == 0 && s.p95() <= p95Target.toMillis();
        log.append(
            String.format(
                Locale.ROOT,
                "| %s | %d | %.0f | %d | %.1f | %.1f %% | %s |%n",
                p,
                tryN,
                s.p95(),
                s.lost(),
                s.mMean(),
                100 * s.accuracy(),
                ok ? "yes" : "no"));
        if (ok) {
          pass = tryN;
          n = tryN * 2;
        } else {
          fail = tryN;
        }
        if (fail < 0 && n > 256) {
          break;
        }
      }
      best.put(p, pass);
    }
    StringBuilder table =
        new StringBuilder(
            "| policy | most cameras at p95 ≤ "
                + p95Target.toMillis()
                + " ms ("
                + fps
                + " fps each) |\n| --- | --- |\n");
    best.forEach((p, n) -> table.append("| ").append(p).append(" | ").append(n).append(" |\n"));
    Files.writeString(dir.resolve("find-max.md"), table + "\nTrials:\n\n" + log);
    stdout.print(table);
    stdout.print(log);
    if (json) {
      stdout.println(
          new com.fasterxml.jackson.databind.ObjectMapper()
              .writeValueAsString(Map.of("max_cameras", best)));
    }
    stdout.flush();
    return 0;
  }

  /** The command as typed (the arguments may or may not start with the subcommand's name). */
  private String commandLine() {
    List<String> args = spec.commandLine().getParseResult().originalArgs();
    String joined = String.join(" ", args);
    return "bin/mqt-stream "
        + (!args.isEmpty() && args.get(0).equals("loadtest") ? joined : "loadtest " + joined);
  }
}
