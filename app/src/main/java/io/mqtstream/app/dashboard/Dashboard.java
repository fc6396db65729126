package io.mqtstream.app.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mqtstream.wire.Answer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;

/**
 * What the browser dashboard shows, kept live: each camera's latest frame and its latest answer to
 * each question (right or wrong where the camera knows the truth), and once a second an overview
 * (m, latency p50/p95 over that second, lag, frames and answers per second, dead letters, reasoner
 * utilisation) with a few minutes of history. Changes are published as events (JSON text) to any
 * number of listeners; a slow listener misses events, it never slows the engine.
 *
 * <p>Thread-safe: frames and answers arrive on the pipeline's threads, ticks on a timer.
 */
public final class Dashboard {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Overview samples kept for a page that opens late (one a second). */
  static final int HISTORY = 300;

  /** A camera's frame is announced at most this often (ms): the page need not see every one. */
  private static final long FRAME_EVERY_MS = 1000;

  private final LongSupplier clockMillis;
  private final Map<String, CameraState> cameras = new ConcurrentHashMap<>();
  private final ArrayDeque<ObjectNode> history = new ArrayDeque<>();
  private final Sinks.Many<String> events = Sinks.many().multicast().directBestEffort();
  private final List<Long> latencies = new ArrayList<>(); // answers since the last tick
  private Totals last; // at the previous tick (ticks come from one timer thread)
  private long lastAt;

  /**
   * The engine's running totals and gauges at a tick.
   *
   * @param m the budget's current m
   * @param lag the consumer group's lag on the frames topic
   * @param frames frames encoded so far
   * @param answers answers written so far
   * @param deadLetters dead letters so far
   * @param busyNanos the reasoner's busy time so far
   */
  public record Totals(
      int m, long lag, long frames, long answers, long deadLetters, long busyNanos) {}

  /**
   * @param clockMillis wall-clock time, {@link System#currentTimeMillis} outside tests
   */
  public Dashboard(LongSupplier clockMillis) {
    this.clockMillis = clockMillis;
  }

  /** A frame the engine took; JPEG bytes are kept (the latest per camera) for the page. */
  public void frame(String camera, long seq, byte[] jpeg) {
    CameraState c = cameras.computeIfAbsent(camera, k -> new CameraState());
    long now = clockMillis.getAsLong();
    boolean announce;
    synchronized (c) {
      c.seq = seq;
      c.jpeg = jpeg;
      announce = now - c.announcedAt >= FRAME_EVERY_MS;
      if (announce) {
        c.announcedAt = now;
      }
    }
    if (announce) {
      ObjectNode e = JSON.createObjectNode().put("type", "frame").put("camera", camera);
      e.put("seq", seq);
      emit(e);
    }
  }

  /** An answer written; {@code expected} is the camera's truth for its question, when known. */
  public void answer(Answer a, Optional<String> expected) {
    ObjectNode e = answerJson(a, expected);
    CameraState c = cameras.computeIfAbsent(a.cameraId(), k -> new CameraState());
    synchronized (c) {
      c.answers.put(a.question(), e);
    }
    synchronized (latencies) {
      latencies.add(a.latencyMs());
    }
    emit(e.deepCopy().put("type", "answer"));
  }

  /** Once a second: turns totals into rates, takes the interval's latencies, emits an overview. */
  public void tick(Totals now) {
    long at = clockMillis.getAsLong();
    long[] lat;
    synchronized (latencies) {
      lat = latencies.stream().mapToLong(Long::longValue).toArray();
      latencies.clear();
    }
    Arrays.sort(lat);
    ObjectNode o = JSON.createObjectNode().put("type", "overview").put("at", at);
    o.put("m", now.m()).put("lag", now.lag()).put("deadLetters", now.deadLetters());
    o.put("answeredInInterval", lat.length);
    if (lat.length > 0) {
      o.put("p50Ms", percentile(lat, 0.50)).put("p95Ms", percentile(lat, 0.95));
    } else {
      o.putNull("p50Ms").putNull("p95Ms");
    }
    Totals before = last;
    last = now;
    if (before != null) {
      double seconds = Math.max(1e-3, (at - lastAt) / 1000.0);
      o.put("framesPerSecond", (now.frames() - before.frames()) / seconds);
      o.put("answersPerSecond", (now.answers() - before.answers()) / seconds);
      o.put("utilisation", Math.min(1.0, (now.busyNanos() - before.busyNanos()) / (seconds * 1e9)));
    } else {
      o.put("framesPerSecond", 0.0).put("answersPerSecond", 0.0).put("utilisation", 0.0);
    }
    lastAt = at;
    synchronized (history) {
      history.addLast(o);
      while (history.size() > HISTORY) {
        history.removeFirst();
      }
    }
    emit(o);
  }

  /** The live events, as JSON text: {@code overview}, {@code answer} and {@code frame}. */
  public Flux<String> events() {
    return events.asFlux();
  }

  /**
   * Everything a page needs when it opens: the cameras (latest frame's sequence and latest answers
   * by question, cameras sorted by id) and the overview history.
   */
  public ObjectNode snapshot() {
    ObjectNode root = JSON.createObjectNode();
    ObjectNode cams = root.putObject("cameras");
    for (String id : new TreeMap<>(cameras).keySet()) {
      CameraState c = cameras.get(id);
      ObjectNode n = cams.putObject(id);
      synchronized (c) {
        n.put("seq", c.seq);
        n.put("hasFrame", c.jpeg != null);
        ObjectNode answers = n.putObject("answers");
        c.answers.forEach(answers::set);
      }
    }
    ArrayNode h = root.putArray("history");
    synchronized (history) {
      history.forEach(h::add);
    }
    return root;
  }

  /** A camera's latest frame (JPEG), if it has sent one. */
  public Optional<byte[]> latestFrame(String camera) {
    CameraState c = cameras.get(camera);
    if (c == null) {
      return Optional.empty();
    }
    synchronized (c) {
      return Optional.ofNullable(c.jpeg);
    }
  }

  private void emit(ObjectNode event) {
    events.tryEmitNext(event.toString()); // no listener, or a busy one: dropped, never blocking
  }

  private static ObjectNode answerJson(Answer a, Optional<String> expected) {
    ObjectNode e = JSON.createObjectNode();
    e.put("camera", a.cameraId()).put("seq", a.frameSeq()).put("question", a.question());
    e.put("answer", a.answer()).put("m", a.m()).put("latencyMs", a.latencyMs());
    if (expected.isPresent()) {
      e.put("expected", expected.get()).put("correct", expected.get().equals(a.answer()));
    } else {
      e.putNull("expected").putNull("correct");
    }
    return e;
  }

  /** Nearest-rank percentile of sorted values. */
  static long percentile(long[] sorted, double q) {
    int rank = (int) Math.ceil(q * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  private static final class CameraState {
    final Map<String, ObjectNode> answers = new TreeMap<>();
    long seq = -1;
    byte[] jpeg;
    long announcedAt = Long.MIN_VALUE / 2;
  }
}
