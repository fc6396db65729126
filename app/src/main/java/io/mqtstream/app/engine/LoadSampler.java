package io.mqtstream.app.engine;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * What the token budget looks at, one interval at a time. Latency is the larger of the answers'
 * mean capture-to-answer latency and the oldest frame turned into prompts, both over the last
 * interval only (an idle interval reads zero, so m can climb back when the load goes); the frame
 * age leads the answer latency, since a backlog shows there before any late answer comes out.
 * Utilisation is the reasoner's busy time over the interval's wall time.
 *
 * <p>{@link #answered} and {@link #prompted} may be called from any thread; {@link #sample} from
 * one (the budget's timer).
 */
final class LoadSampler {
  private final int maxQueue;
  private final LongSupplier nanoClock;
  private final AtomicLong latencySumMs = new AtomicLong();
  private final AtomicLong latencyCount = new AtomicLong();
  private final AtomicLong promptAgeMaxMs = new AtomicLong();
  private long lastSampleNanos;
  private long lastBusyNanos;

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

  /** A frame was turned into prompts {@code ageMs} after its capture. */
  void prompted(long ageMs) {
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
    long waited = promptAgeMaxMs.getAndSet(0);
    long now = nanoClock.getAsLong();
    double utilization =
        lastSampleNanos == 0
            ? 0
            : Math.min(
                1.0, (double) (busyNanos - lastBusyNanos) / Math.max(1, now - lastSampleNanos));
    lastSampleNanos = now;
    lastBusyNanos = busyNanos;
    return new TokenBudget.Load(
        Duration.ofMillis(Math.max(answered, waited)),
        lastStep,
        queueDepth,
        maxQueue,
        lag,
        utilization);
  }
}
