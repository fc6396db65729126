package io.mqtstream.loadtest;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** What a run prints and writes: a Markdown table, PNG charts over time, and one JSON line. */
public final class Report {
  private Report() {}

  /** One column of the table: a run's name and its books. */
  public record Column(String name, Ledger ledger) {}

  /** A Markdown table with a row per measure and a column per run. */
  public static String markdown(List<Column> runs) {
    StringBuilder b = new StringBuilder("| measure |");
    runs.forEach(r -> b.append(' ').append(r.name()).append(" |"));
    b.append("\n| --- |");
    runs.forEach(r -> b.append(" --- |"));
    b.append('\n');
    row(b, runs, "frames sent", s -> Long.toString(s.framesSent()));
    row(b, runs, "answers", s -> Long.toString(s.answers()));
    row(b, runs, "frames lost", s -> Long.toString(s.lost()));
    row(b, runs, "frames skipped (shed under load)", s -> Long.toString(s.skipped()));
    row(b, runs, "latency p50 (ms)", s -> fmt(s.p50(), 0));
    row(b, runs, "latency p95 (ms)", s -> fmt(s.p95(), 0));
    row(b, runs, "latency p99 (ms)", s -> fmt(s.p99(), 0));
    row(b, runs, "max lag (frames)", s -> Long.toString(s.maxLag()));
    row(b, runs, "mean m", s -> fmt(s.mMean(), 1));
    row(
        b,
        runs,
        "accuracy",
        s -> Double.isNaN(s.accuracy()) ? "–" : fmt(100 * s.accuracy(), 1) + " %");
    row(
        b,
        runs,
        "timely accuracy (right and within the deadline, of all pairs)",
        s -> pct(s.timelyAccuracy()) + " (≤ " + s.deadlineMs() + " ms)");
    row(b, runs, "answers within the deadline", s -> pct(s.inTimeShare()));
    row(b, runs, "accuracy of the answers within the deadline", s -> pct(s.accuracyInTime()));
    row(b, runs, "m histogram (answers)", s -> histogram(s));
    row(b, runs, "accuracy by m", s -> byM(s));
    return b.toString();
  }

  private static void row(
      StringBuilder b,
      List<Column> runs,
      String name,
      java.util.function.Function<Ledger.Summary, String> cell) {
    b.append("| ").append(name).append(" |");
    for (Column r : runs) {
      b.append(' ').append(cell.apply(r.ledger().summary())).append(" |");
    }
    b.append('\n');
  }

  private static String pct(double v) {
    return Double.isNaN(v) ? "–" : fmt(100 * v, 1) + " %";
  }

  private static String histogram(Ledger.Summary s) {
    StringBuilder b = new StringBuilder();
    s.mHist().forEach((m, n) -> b.append(b.length() == 0 ? "" : " · ").append(m + ": " + n));
    return b.length() == 0 ? "–" : b.toString();
  }

  private static String byM(Ledger.Summary s) {
    StringBuilder b = new StringBuilder();
    s.accuracyByM()
        .forEach(
            (m, score) ->
                b.append(b.length() == 0 ? "" : " · ")
                    .append(m)
                    .append(": ")
                    .append(pct(score.accuracy()))
                    .append(" (")
                    .append(score.scored())
                    .append(')'));
    return b.length() == 0 ? "–" : b.toString();
  }

  static String fmt(double v, int decimals) {
    return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%." + decimals + "f", v);
  }

  /**
   * {@code latency.png} (p50/p95 per second), {@code m.png} and {@code lag.png} into {@code dir}.
   */
  public static void charts(Path dir, List<Column> runs) throws IOException {
    TimeChart latency =
        new TimeChart("end-to-end latency per second (capture → answer read)", "ms");
    TimeChart m = new TimeChart("mean m (visual tokens per frame) per second", "m");
    TimeChart lag = new TimeChart("consumer lag of the engine's group", "frames");
    for (Column r : runs) {
      Map<Long, Ledger.Bucket> t = r.ledger().timeline();
      latency.line(r.name() + " p50", series(t, b -> b.latencyPercentile(50)));
      latency.line(r.name() + " p95", series(t, b -> b.latencyPercentile(95)));
      m.line(r.name(), series(t, Ledger.Bucket::meanM));
      lag.line(r.name(), series(t, b -> b.lag() < 0 ? Double.NaN : (double) b.lag()));
    }
    latency.write(dir.resolve("latency.png"));
    m.write(dir.resolve("m.png"));
    lag.write(dir.resolve("lag.png"));
  }

  private static Map<Long, Double> series(
      Map<Long, Ledger.Bucket> timeline, java.util.function.ToDoubleFunction<Ledger.Bucket> f) {
    Map<Long, Double> out = new TreeMap<>();
    timeline.forEach((t, b) -> out.put(t, f.applyAsDouble(b)));
    return out;
  }

  /** The run as the one-line JSON of {@code loadtest --json}. */
  public static String json(Ledger.Summary s) {
    Map<String, Object> o = new LinkedHashMap<>();
    o.put("frames_sent", s.framesSent());
    o.put("answers", s.answers());
    o.put("lost", s.lost());
    o.put("skipped", s.skipped());
    Map<String, Object> latency = new LinkedHashMap<>();
    latency.put("p50", num(s.p50()));
    latency.put("p95", num(s.p95()));
    latency.put("p99", num(s.p99()));
    o.put("latency_ms", latency);
    o.put("max_lag", s.maxLag());
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mean", num(s.mMean()));
    Map<String, Long> hist = new LinkedHashMap<>();
    s.mHist().forEach((k, v) -> hist.put(Integer.toString(k), v));
    m.put("hist", hist);
    o.put("m", m);
    o.put("accuracy", num(s.accuracy()));
    o.put("deadline_ms", s.deadlineMs());
    o.put("timely_accuracy", num(s.timelyAccuracy()));
    o.put("in_time", num(s.inTimeShare()));
    o.put("accuracy_in_time", num(s.accuracyInTime()));
    Map<String, Object> byM = new LinkedHashMap<>();
    s.accuracyByM()
        .forEach(
            (k, v) -> {
              Map<String, Object> score = new LinkedHashMap<>();
              score.put("scored", v.scored());
              score.put("accuracy", num(v.accuracy()));
              byM.put(Integer.toString(k), score);
            });
    o.put("accuracy_by_m", byM);
    try {
      return new ObjectMapper().writeValueAsString(o);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Object num(double v) {
    return Double.isNaN(v) ? null : Math.round(v * 10_000) / 10_000.0;
  }
}
