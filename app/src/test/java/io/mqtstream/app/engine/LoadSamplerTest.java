package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LoadSamplerTest {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private final LoadSampler sampler = new LoadSampler(64, nanos::get);

  @Test
  void latencyIsTheIntervalsMeanAnswerLatencyOrItsOldestPromptWhicheverIsLarger() {
    sampler.answered(100);
    sampler.answered(300);
    sampler.reached(150);
    assertThat(sampler.sample(Duration.ZERO, 0, 0, 0).latency()).isEqualTo(Duration.ofMillis(200));
    sampler.answered(100);
    sampler.reached(900);
    sampler.reached(400);
    assertThat(sampler.sample(Duration.ZERO, 0, 0, 0).latency()).isEqualTo(Duration.ofMillis(900));
  }

  @Test
  void anIdleIntervalReadsZeroSoMCanClimbBack() {
    sampler.answered(5_000);
    sampler.sample(Duration.ZERO, 0, 0, 0);
    assertThat(sampler.sample(Duration.ZERO, 0, 0, 0).latency()).isEqualTo(Duration.ZERO);
  }

  /**
   * Nothing answered and no frame seen while the reasoner worked: the pipeline is stalled behind
   * it, not idle, so the interval keeps the latency last measured instead of reading zero.
   */
  @Test
  void anIntervalThatSawNothingWhileTheReasonerWorkedKeepsTheLastLatency() {
    sampler.answered(2_000);
    nanos.addAndGet(1_000_000_000L);
    assertThat(sampler.sample(Duration.ZERO, 0, 100_000_000L, 0).latency())
        .isEqualTo(Duration.ofMillis(2_000));
    nanos.addAndGet(1_000_000_000L);
    assertThat(sampler.sample(Duration.ZERO, 0, 1_100_000_000L, 0).latency())
        .as("busy, blind")
        .isEqualTo(Duration.ofMillis(2_000));
    nanos.addAndGet(1_000_000_000L);
    assertThat(sampler.sample(Duration.ZERO, 5, 1_100_000_000L, 0).latency())
        .as("prompts queued, blind")
        .isEqualTo(Duration.ofMillis(2_000));
    nanos.addAndGet(1_000_000_000L);
    assertThat(sampler.sample(Duration.ZERO, 0, 1_100_000_000L, 0).latency())
        .as("idle at last")
        .isEqualTo(Duration.ZERO);
  }

  @Test
  void aFrameSeenWithoutAnAnswerIsStillASignal() {
    sampler.answered(2_000);
    sampler.sample(Duration.ZERO, 0, 0, 0);
    sampler.reached(30); // e.g. a shed frame, promptly
    assertThat(sampler.sample(Duration.ZERO, 0, 0, 0).latency()).isEqualTo(Duration.ofMillis(30));
  }

  @Test
  void utilisationIsBusyTimeOverTheIntervalCappedAtOne() {
    assertThat(sampler.sample(Duration.ZERO, 0, 0, 0).utilization()).isZero(); // no interval yet
    nanos.addAndGet(1_000_000_000L);
    assertThat(sampler.sample(Duration.ZERO, 0, 250_000_000L, 0).utilization()).isEqualTo(0.25);
    nanos.addAndGet(500_000_000L);
    assertThat(sampler.sample(Duration.ZERO, 0, 2_000_000_000L, 0).utilization()).isEqualTo(1.0);
  }

  @Test
  void theReasonersSignalsAndTheLagPassThrough() {
    TokenBudget.Load load = sampler.sample(Duration.ofMillis(70), 12, 0, 345);
    assertThat(load.stepLatency()).isEqualTo(Duration.ofMillis(70));
    assertThat(load.queueDepth()).isEqualTo(12);
    assertThat(load.maxQueue()).isEqualTo(64);
    assertThat(load.lag()).isEqualTo(345);
  }
}
