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
    return budget(policy, 2, Map.of(), 1);
  }

  /** The shipped defaults with an accuracy floor, per-camera floors and load shedding. */
  private static TokenBudget budget(
      String policy, int floor, Map<String, Integer> floors, int maxStride) {
    EngineConfig.Budget b = EngineConfig.defaults().budget();
    return new TokenBudget(
        TokenBudget.Settings.of(
            new EngineConfig.Budget(
                policy,
                b.allowed(),
                floor,
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
                Map.of("lobby", 16),
                floors,
                maxStride),
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

  /** Runs the budget in virtual time under a steady 3 s latency for {@code d}, then stops it. */
  private static void overloadedFor(TokenBudget budget, Duration d) {
    StepVerifier.withVirtualTime(
            () -> budget.run(() -> latency(3000), VirtualTimeScheduler.get()).then())
        .expectSubscription()
        .thenAwait(d)
        .thenCancel()
        .verify();
  }

  @Test
  void aCamerasFloorHoldsItsMWhileTheOthersFallToTheGlobalFloor() {
    TokenBudget budget = budget("adaptive", 2, Map.of("gate", 16, "yard", 128), 1);
    overloadedFor(budget, Duration.ofSeconds(10));
    assertThat(budget.m()).isEqualTo(2);
    assertThat(budget.m("street")).isEqualTo(2);
    assertThat(budget.m("gate")).isEqualTo(16);
    assertThat(budget.m("yard")).as("a floor above M is M").isEqualTo(64);
    assertThat(budget.m("lobby")).as("an override wins").isEqualTo(16);
    assertThat(budget.stride()).as("no shedding unless configured").isEqualTo(1);
  }

  @Test
  void atTheFloorTheBudgetShedsFramesThenAsksOnEveryFrameAgainBeforeMClimbs() {
    TokenBudget budget = budget("adaptive", 16, Map.of(), 8);
    AtomicReference<TokenBudget.Load> load = new AtomicReference<>(latency(3000));
    List<int[]> seen = new ArrayList<>(); // {m, stride} after each look
    StepVerifier.withVirtualTime(
            () ->
                budget
                    .run(load::get, VirtualTimeScheduler.get())
                    .doOnNext(m -> seen.add(new int[] {m, budget.stride()}))
                    .then())
        .expectSubscription()
        .thenAwait(Duration.ofSeconds(20))
        .then(
            () -> {
              assertThat(budget.m()).as("never below the floor").isEqualTo(16);
              assertThat(budget.stride()).isEqualTo(8);
              // shedding began only once m was at the floor, and grew one step per cut
              int firstShed =
                  seen.stream().filter(s -> s[1] > 1).findFirst().map(seen::indexOf).orElseThrow();
              assertThat(seen.get(firstShed)[0]).isEqualTo(16);
              assertThat(seen.stream().map(s -> s[1]).distinct())
                  .containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
              load.set(latency(100));
            })
        .thenAwait(Duration.ofSeconds(60))
        .then(
            () -> {
              assertThat(budget.stride()).isEqualTo(1);
              assertThat(budget.m()).isEqualTo(64);
              List<int[]> recovery = seen.subList(seen.size() - 240, seen.size());
              int lastShed = -1;
              int firstClimb = Integer.MAX_VALUE;
              for (int i = 0; i < recovery.size(); i++) {
                if (recovery.get(i)[1] > 1) {
                  lastShed = i;
                }
                if (recovery.get(i)[0] > 16) {
                  firstClimb = Math.min(firstClimb, i);
                }
              }
              assertThat(lastShed).as("shedding undone before m climbs").isLessThan(firstClimb);
            })
        .thenCancel()
        .verify();
  }

  @Test
  void theFixedPolicyShedsInsteadOfCuttingWhenAllowedTo() {
    TokenBudget budget = budget("fixed", 2, Map.of(), 4);
    overloadedFor(budget, Duration.ofSeconds(10));
    assertThat(budget.m()).isEqualTo(64);
    assertThat(budget.stride()).isEqualTo(4);
  }

  /**
   * A machine that carries every 8th frame and no more, while the reasoner's busy fraction reads
   * low (the cost of shed frames, still decoded and encoded, is where the gate does not look):
   * every look below stride 8 adds 400 ms of backlog, every look at 8 drains 400 ms. Each step down
   * from 8 fails; the budget must try less and less often instead of every few seconds, and still
   * come all the way back once the load goes.
   */
  @Test
  void aStepUpThatKeepsFailingIsTriedLessAndLessOften() {
    TokenBudget budget = budget("fixed", 2, Map.of(), 8);
    boolean[] heavy = {true};
    long[] backlogMs = {0};
    List<Integer> strides = new ArrayList<>();
    java.util.function.Supplier<TokenBudget.Load> machine =
        () -> {
          int k = budget.stride();
          backlogMs[0] = Math.max(0, backlogMs[0] + (heavy[0] && k < 8 ? 400 : -400));
          return new TokenBudget.Load(
              Duration.ofMillis(100 + backlogMs[0]), Duration.ofMillis(50), 0, 128, 0, 0.3);
        };
    StepVerifier.withVirtualTime(
            () ->
                budget
                    .run(machine, VirtualTimeScheduler.get())
                    .doOnNext(m -> strides.add(budget.stride()))
                    .then())
        .expectSubscription()
        .thenAwait(Duration.ofSeconds(180))
        .then(
            () -> {
              List<Integer> downs = new ArrayList<>(); // looks at which the stride left 8
              for (int i = 1; i < strides.size(); i++) {
                if (strides.get(i - 1) == 8 && strides.get(i) == 7) {
                  downs.add(i);
                }
              }
              assertThat(budget.failedSteps())
                  .isEqualTo(downs.size() - (strides.get(strides.size() - 1) < 8 ? 1 : 0));
              assertThat(downs.size()).as("tries in 3 minutes").isBetween(3, 10);
              List<Integer> gaps = new ArrayList<>();
              for (int i = 1; i < downs.size(); i++) {
                gaps.add(downs.get(i) - downs.get(i - 1));
              }
              assertThat(gaps.get(gaps.size() - 1))
                  .as("the last wait against the first")
                  .isGreaterThan(4 * gaps.get(0));
              long atEight =
                  strides.subList(strides.size() / 2, strides.size()).stream()
                      .filter(k -> k == 8)
                      .count();
              assertThat(atEight)
                  .as("looks at stride 8 in the second half")
                  .isGreaterThan(strides.size() / 2 * 8 / 10);
              heavy[0] = false; // the load goes
            })
        .thenAwait(Duration.ofSeconds(60))
        .then(() -> assertThat(budget.stride()).as("back to every frame").isEqualTo(1))
        .thenCancel()
        .verify();
  }

  @Test
  void aBadStrideOrFloorNamesTheKey() {
    String yaml = "budget:\n  maxStride: 0\n";
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> EngineConfig.parse(yaml, "t"))
        .hasMessageContaining("budget.maxStride");
    String floors = "budget:\n  floors: {gate: 0}\n";
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> EngineConfig.parse(floors, "t"))
        .hasMessageContaining("budget.floors.gate");
  }
}
