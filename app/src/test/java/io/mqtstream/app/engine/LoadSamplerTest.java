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
    sampler.prompted(150);
    assertThat(sampler.sample(Duration.ZERO, 0, 0, 0).latency()).isEqualTo(Duration.ofMillis(200));
    sampler.answered(100);
    sampler.prompted(900);
    sampler.prompted(400);
    assertThat(sampler.sample(Duration.ZERO, 0, 0, 0).latency()).isEqualTo(Duration.ofMillis(900));
  }

  @Test
  void anIdleIntervalReadsZeroSoMCanClimbBack() {
    sampler.answered(5_000);
    sampler.sample(Duration.ZERO, 0, 0, 0);
    assertThat(sampler.sample(Duration.ZERO, 0, 0, 0).latency()).isEqualTo(Duration.ZERO);
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
