package io.mqtstream.app.engine;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * What the token budget looks at, one interval at a time. Latency is the larger of the answers'
 * mean capture-to-answer latency and the oldest frame that reached its ask point (turned into
 * prompts, or shed), both over the last interval only; the frame age leads the answer latency,
 * since a backlog shows there before any late answer comes out. An idle interval (nothing seen, the
 * reasoner idle) reads zero, so m can climb back when the load goes; an interval that saw nothing
 * while the reasoner worked is not idle but blind (the pipeline stalled behind the reasoner), and
 * keeps the last latency measured: reading zero there let a shedding budget relax in the middle of
 * an overload. Utilisation is the reasoner's busy time over the interval's wall time.
 *
 * <p>{@link #answered} and {@link #prompted} may be called from any thread; {@link #sample} from
 * one (the budget's timer).
 */
final class LoadSampler {
  private final int maxQueue;
  private final LongSupplier nanoClock;
  private final AtomicLong latencySumMs = new AtomicLong();
  private final AtomicLong latencyCount = new AtomicLong();
  private final AtomicLong promptAgeMaxMs = new AtomicLong(-1); // -1: no frame this interval
  private long lastSampleNanos;
  private long lastBusyNanos;
  private long lastLatencyMs;

  /**
   * @param maxQueue the reasoner's queue bound, against which the depth is read
   * @param nanoClock monotonic time, {@link System#nanoTime} outside tests
   */
  LoadSampler(int maxQueue, LongSupplier nanoClock) {
    this.maxQueue = maxQueue;
    this.nanoClock = nanoClock;
  }

  /** An answer was written, {@code latencyMs} after its frame's capture. */
  void answered(long latencyMs) {
    latencySumMs.addAndGet(Math.max(0, latencyMs));
    latencyCount.incrementAndGet();
  }

  /** A frame reached its ask point (turned into prompts, or shed) {@code ageMs} after capture. */
  void reached(long ageMs) {
    promptAgeMaxMs.accumulateAndGet(ageMs, Math::max);
  }

  /**
   * The load of the interval since the previous sample, and a new interval begins.
   *
   * @param lastStep the reasoner's last step latency
   * @param queueDepth prompts waiting for the reasoner
   * @param busyNanos the reasoner's busy time so far (a running total)
   * @param lag the consumer group's lag
   */
  TokenBudget.Load sample(Duration lastStep, int queueDepth, long busyNanos, long lag) {
    long n = latencyCount.getAndSet(0);
    long sum = latencySumMs.getAndSet(0);
    long answered = n > 0 ? sum / n : 0;
    long waited = promptAgeMaxMs.getAndSet(-1);
    long now = nanoClock.getAsLong();
    boolean busy = busyNanos > lastBusyNanos;
    double utilization =
        lastSampleNanos == 0
            ? 0
            : Math.min(
                1.0, (double) (busyNanos - lastBusyNanos) / Math.max(1, now - lastSampleNanos));
    lastSampleNanos = now;
    lastBusyNanos = busyNanos;
    long latency;
    if (n > 0 || waited >= 0) {
      latency = Math.max(answered, waited);
    } else {
      latency = busy || queueDepth > 0 ? lastLatencyMs : 0; // blind, or idle
    }
    lastLatencyMs = latency;
    return new TokenBudget.Load(
        Duration.ofMillis(latency), lastStep, queueDepth, maxQueue, lag, utilization);
  }
}
