package io.mqtstream.loadtest;

import io.mqtstream.wire.Answer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The harness's books: every frame the broker acknowledged as published, every answer read back,
 * and what follows from the two — frames never answered (lost), end-to-end latency (capture
 * timestamp to the answer read back), m, accuracy against the synthetic ground truth, and a
 * per-second timeline. Thread-safe.
 *
 * <p>Scored as a camera operator scores it: an answer counts as <em>timely</em> when it is right
 * and read back within the deadline; timely accuracy is the share of all measured (frame, question)
 * pairs answered timely (a frame never answered counts its questions as missed), next to the
 * accuracy of the answers that came in time and accuracy by m.
 */
public final class Ledger {
  private final long startMs;
  private final long measureFromMs;
  private final long deadlineMs;
  private final Map<String, Long> published = new ConcurrentHashMap<>(); // camera#seq → ms
  private final java.util.Set<String> answered = ConcurrentHashMap.newKeySet();
  private final java.util.Set<String> scoredFrames = ConcurrentHashMap.newKeySet();
  private final java.util.Set<String> skippedFrames = ConcurrentHashMap.newKeySet();
  private final Map<Integer, long[]> byM = new TreeMap<>(); // m → {scored, correct}
  private final List<Long> latencies = new ArrayList<>();
  private final List<Integer> ms = new ArrayList<>();
  private final TreeMap<Long, Bucket> timeline = new TreeMap<>();
  private final Map<String, java.util.Set<String>> questions = new TreeMap<>();
  private long answers;
  private long scored;
  private long correct;
  private long inTime; // scored answers read back within the deadline
  private long timely; // of those, right
  private long skippedPairs; // measured (frame, question) pairs with ground truth the engine shed
  private long maxLag;
  private volatile long lastLag = -1;

  /** A ledger whose timeline starts at {@code startMs} (epoch milliseconds). */
  public Ledger(long startMs) {
    this(startMs, startMs);
  }

  /**
   * A ledger whose statistics (latency, m, accuracy) count only frames captured from {@code
   * measureFromMs} on: the frames of a warm-up must still be answered (loss counts every frame) but
   * do not weigh on the steady-state figures.
   */
  public Ledger(long startMs, long measureFromMs) {
    this(startMs, measureFromMs, 1000);
  }

  /** As {@link #Ledger(long, long)}, an answer counting as timely within {@code deadlineMs}. */
  public Ledger(long startMs, long measureFromMs, long deadlineMs) {
    this.startMs = startMs;
    this.measureFromMs = measureFromMs;
    this.deadlineMs = deadlineMs;
  }

  /** One second of the run. */
  public static final class Bucket {
    long published;
    long answers;
    long mSum;
    long lag = -1;
    final List<Long> latencies = new ArrayList<>();

    public long published() {
      return published;
    }

    public long answers() {
      return answers;
    }

    /** Mean m of this second's answers, or NaN. */
    public double meanM() {
      return answers == 0 ? Double.NaN : (double) mSum / answers;
    }

    /** Consumer lag sampled in this second, or -1. */
    public long lag() {
      return lag;
    }

    public double latencyPercentile(double p) {
      return percentile(latencies, p);
    }
  }

  private static String key(String camera, long seq) {
    return camera + "#" + seq;
  }

  /** A frame the broker acknowledged. */
  public void published(String camera, long seq, long atMs) {
    published.put(key(camera, seq), atMs);
    synchronized (this) {
      bucket(atMs).published++;
    }
  }

  /**
   * An answer read back at {@code atMs}; {@code expected} is the ground truth when the frame had it
   * (null otherwise).
   */
  public void answered(Answer a, String expected, long atMs) {
    answered.add(key(a.cameraId(), a.frameSeq()));
    if (a.skipped()) {
      skippedFrames.add(key(a.cameraId(), a.frameSeq()));
      if (a.frameTs() >= measureFromMs && expected != null) {
        synchronized (this) {
          skippedPairs++; // not lost, not answered: missed by the operator all the same
        }
      }
      return;
    }
    if (a.frameTs() < measureFromMs) {
      return; // warm-up: answered, not measured
    }
    long latency = Math.max(0, atMs - a.frameTs());
    synchronized (this) {
      questions.computeIfAbsent(a.cameraId(), c -> new java.util.TreeSet<>()).add(a.question());
      answers++;
      latencies.add(latency);
      ms.add(a.m());
      if (expected != null) {
        boolean right = expected.equals(a.answer());
        scored++;
        scoredFrames.add(key(a.cameraId(), a.frameSeq()));
        long[] m = byM.computeIfAbsent(a.m(), k -> new long[2]);
        m[0]++;
        if (right) {
          correct++;
          m[1]++;
        }
        if (latency <= deadlineMs) {
          inTime++;
          if (right) {
            timely++;
          }
        }
      }
      Bucket b = bucket(atMs);
      b.answers++;
      b.mSum += a.m();
      b.latencies.add(latency);
    }
  }

  /** The engine group's consumer lag, sampled at {@code atMs}. */
  public synchronized void lag(long lag, long atMs) {
    lastLag = lag;
    maxLag = Math.max(maxLag, lag);
    Bucket b = bucket(atMs);
    b.lag = Math.max(b.lag, lag);
  }

  private Bucket bucket(long atMs) {
    return timeline.computeIfAbsent(Math.max(0, (atMs - startMs) / 1000), s -> new Bucket());
  }

  /** The last lag sampled, or -1. */
  public long lastLag() {
    return lastLag;
  }

  /** Frames published and not (yet) answered. */
  public long unanswered() {
    return published.keySet().stream().filter(k -> !answered.contains(k)).count();
  }

  public long published() {
    return published.size();
  }

  /** The run's numbers so far. */
  public synchronized Summary summary() {
    long sent = published.size();
    long lost = unanswered();
    long unexpected = answered.stream().filter(k -> !published.containsKey(k)).count();
    long lostMeasured =
        published.entrySet().stream()
            .filter(e -> e.getValue() >= measureFromMs && !answered.contains(e.getKey()))
            .count();
    double questionsPerFrame = scoredFrames.isEmpty() ? 0 : (double) scored / scoredFrames.size();
    double pairs = scored + lostMeasured * questionsPerFrame + skippedPairs;
    Map<Integer, Score> accuracyByM = new TreeMap<>();
    byM.forEach((m, c) -> accuracyByM.put(m, new Score(c[0], c[1])));
    Map<Integer, Long> hist = new TreeMap<>();
    for (int m : ms) {
      hist.merge(m, 1L, Long::sum);
    }
    return new Summary(
        sent,
        answers,
        lost,
        skippedFrames.size(),
        unexpected,
        percentile(latencies, 50),
        percentile(latencies, 95),
        percentile(latencies, 99),
        maxLag,
        ms.stream().mapToInt(Integer::intValue).min().orElse(0),
        ms.stream().mapToInt(Integer::intValue).average().orElse(Double.NaN),
        ms.stream().mapToInt(Integer::intValue).max().orElse(0),
        hist,
        scored == 0 ? Double.NaN : (double) correct / scored,
        scored,
        deadlineMs,
        pairs == 0 ? Double.NaN : timely / pairs,
        inTime == 0 ? Double.NaN : (double) timely / inTime,
        scored == 0 ? Double.NaN : (double) inTime / scored,
        accuracyByM);
  }

  /** Scored answers and how many were right. */
  public record Score(long scored, long correct) {
    public double accuracy() {
      return scored == 0 ? Double.NaN : (double) correct / scored;
    }
  }

  /** How many distinct frames of a camera have at least one answer. */
  public long answeredFrames(String camera) {
    return answered.stream().filter(k -> k.startsWith(camera + "#")).count();
  }

  /** The questions answered for a camera. */
  public synchronized java.util.Set<String> questions(String camera) {
    return java.util.Set.copyOf(questions.getOrDefault(camera, java.util.Set.of()));
  }

  /** Seconds since the start → that second's bucket. */
  public synchronized Map<Long, Bucket> timeline() {
    return new TreeMap<>(timeline);
  }

  /**
   * The numbers of a run.
   *
   * @param framesSent frames the broker acknowledged
   * @param answers answers read back for those frames
   * @param lost frames with no answer
   * @param skipped frames the engine shed under load (a skip record per question instead of
   *     answers): not lost, but their questions count as missed in {@code timelyAccuracy}
   * @param unexpected answered frames this run did not publish
   * @param p50 latency percentiles, ms (NaN without answers)
   * @param maxLag the largest consumer lag sampled
   * @param mHist answers per m
   * @param accuracy correct / scored answers (NaN when nothing had ground truth)
   * @param scored answers that had ground truth
   * @param deadlineMs the latency within which an answer counts as timely
   * @param timelyAccuracy right and within the deadline, over every measured (frame, question)
   *     pair, unanswered frames included (NaN when nothing had ground truth)
   * @param accuracyInTime right among the scored answers read back within the deadline
   * @param inTimeShare scored answers within the deadline, over all scored answers
   * @param accuracyByM m → the scored answers at that m and how many were right
   */
  public record Summary(
      long framesSent,
      long answers,
      long lost,
      long skipped,
      long unexpected,
      double p50,
      double p95,
      double p99,
      long maxLag,
      int mMin,
      double mMean,
      int mMax,
      Map<Integer, Long> mHist,
      double accuracy,
      long scored,
      long deadlineMs,
      double timelyAccuracy,
      double accuracyInTime,
      double inTimeShare,
      Map<Integer, Score> accuracyByM) {}

  static double percentile(List<Long> values, double p) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    long[] sorted = values.stream().mapToLong(Long::longValue).toArray();
    Arrays.sort(sorted);
    int rank = (int) Math.ceil(p / 100.0 * sorted.length) - 1; // nearest rank
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank))];
  }
}
