package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.mqtstream.app.EngineConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

class TokenBudgetTest {
  private static final Duration TARGET = Duration.ofSeconds(1);

  /** The shipped defaults (interval 250 ms, cut after 2 looks, cooldown 1 s, up after 8). */
  private static TokenBudget budget(String policy) {
    EngineConfig.Budget b = EngineConfig.defaults().budget();
    return new TokenBudget(
        TokenBudget.Settings.of(
            new EngineConfig.Budget(
                policy,
                b.allowed(),
                b.floor(),
                b.ceiling(),
                b.fixedM(),
                TARGET,
                b.interval(),
                b.decreaseAfter(),
                b.cooldown(),
                b.increaseAfter(),
                b.decreaseFactor(),
                b.lowWater(),
                b.maxLag(),
                Map.of("lobby", 16)),
            64));
  }

  private static TokenBudget.Load latency(long ms) {
    return new TokenBudget.Load(Duration.ofMillis(ms), Duration.ofMillis(50), 0, 128, 0, 0.1);
  }

  @Test
  void mFallsUnderSustainedOverloadAndClimbsBackWhenTheLoadGoes() {
    TokenBudget budget = budget("adaptive");
    AtomicReference<TokenBudget.Load> load = new AtomicReference<>(latency(3000));
    List<Integer> seen = new ArrayList<>();
    StepVerifier.withVirtualTime(
            () -> budget.run(load::get, VirtualTimeScheduler.get()).doOnNext(seen::add).then())
        .expectSubscription()
        .thenAwait(Duration.ofSeconds(10)) // overloaded for 10 s
        .then(
            () -> {
              assertThat(budget.m()).isEqualTo(2); // down to the floor, step by step
              assertThat(seen).isSortedAccordingTo((a, b) -> b - a); // never up while overloaded
              assertThat(seen).contains(32, 16, 8, 4);
              load.set(latency(100)); // the load goes away
            })
        .thenAwait(Duration.ofSeconds(30))
        .then(() -> assertThat(budget.m()).isEqualTo(64))
        .thenCancel()
        .verify();
    // each cut waited for the cooldown: 64 → 2 took at least 4 cooldowns
    assertThat(seen.indexOf(2)).isGreaterThanOrEqualTo(4 * 4);
  }

  @Test
  void aFullPromptQueueIsOverloadEvenWithLowLatency() {
    TokenBudget budget = budget("adaptive");
    TokenBudget.Load full =
        new TokenBudget.Load(Duration.ofMillis(100), Duration.ZERO, 128, 128, 0, 1.0);
    StepVerifier.withVirtualTime(() -> budget.run(() -> full, VirtualTimeScheduler.get()).then())
        .expectSubscription()
        .thenAwait(Duration.ofSeconds(3))
        .then(() -> assertThat(budget.m()).isLessThan(64))
        .thenCancel()
        .verify();
  }

  @Test
  void aSteadyLoadInTheDeadBandDoesNotFlap() {
    TokenBudget budget = budget("adaptive");
    // between lowWater (0.5) and the limit (1.0), wobbling: neither cut nor step up
    long[] wobble = {600, 900, 700, 950, 550, 800};
    int[] i = {0};
    List<Integer> seen = new ArrayList<>();
    StepVerifier.withVirtualTime(
            () ->
                budget
                    .run(() -> latency(wobble[i[0]++ % wobble.length]), VirtualTimeScheduler.get())
                    .doOnNext(seen::add)
                    .then())
        .expectSubscription()
        .thenAwait(Duration.ofMinutes(2))
        .thenCancel()
        .verify();
    assertThat(seen).hasSizeGreaterThan(400).containsOnly(64);
  }

  @Test
  void shortSpikesBelowTheHysteresisDoNotCut() {
    TokenBudget budget = budget("adaptive");
    int[] look = {0};
    List<Integer> seen = new ArrayList<>();
    StepVerifier.withVirtualTime(
            () ->
                budget
                    // one overloaded look in every three: never two in a row
                    .run(() -> latency(look[0]++ % 3 == 0 ? 2000 : 700), VirtualTimeScheduler.get())
                    .doOnNext(seen::add)
                    .then())
        .expectSubscription()
        .thenAwait(Duration.ofSeconds(30))
        .thenCancel()
        .verify();
    assertThat(seen).containsOnly(64);
  }

  @Test
  void mStopsClimbingWhereTheNextStepWouldSaturateTheReasoner() {
    TokenBudget b = budget("adaptive");
    forceDown(b, 2);
    // Latency is fine, and the reasoner is busy in proportion to m (3 % per token per frame):
    // at 16 it is 48 % busy, and 32 would mean 96 % ≥ the 85 % headroom bound.
    for (int look = 0; look < 2_000; look++) {
      b.observe(
          new TokenBudget.Load(
              Duration.ofMillis(200), Duration.ofMillis(50), 0, 128, 0, 0.03 * b.m()));
    }
    assertThat(b.m()).isEqualTo(16);
  }

  /** Drives the budget down to {@code target} with overloaded looks. */
  private static void forceDown(TokenBudget b, int target) {
    for (int i = 0; i < 1000 && b.m() > target; i++) {
      b.observe(latency(5000));
    }
  }

  @Test
  void fixedPolicyIgnoresLoadAndOverridesPinACamera() {
    TokenBudget budget = budget("fixed");
    StepVerifier.withVirtualTime(
            () -> budget.run(() -> latency(10_000), VirtualTimeScheduler.get()).then())
        .expectSubscription()
        .thenAwait(Duration.ofSeconds(10))
        .then(() -> assertThat(budget.m()).isEqualTo(64))
        .thenCancel()
        .verify();
    assertThat(budget.pressure()).isGreaterThan(1.0); // it saw the load, and held m
    assertThat(budget.m("lobby")).isEqualTo(16);
    assertThat(budget.m("gate")).isEqualTo(64);
  }

  @Test
  void allowedValuesAboveMAreDroppedAndMIsAlwaysAllowed() {
    TokenBudget.Settings s =
        TokenBudget.Settings.of(EngineConfig.defaults().budget(), 48); // M = 48, not in the list
    assertThat(s.allowed()).containsExactly(2, 4, 8, 16, 32, 48);
    assertThat(s.ceiling()).isEqualTo(48);
  }
}
