package io.mqtstream.reasoner;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mqtstream.encoder.VisualTokens;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.test.StepVerifier;
import reactor.test.publisher.TestPublisher;
import reactor.test.scheduler.VirtualTimeScheduler;

class PromptBatcherTest {
  private static final VisualTokens ONE_TOKEN = VisualTokens.of(new float[] {1f, 2f}, 1, 2);

  /** A prompt whose fake completion takes {@code steps} decode steps after its prefill. */
  private static Prompt prompt(String id, int steps) {
    return new Prompt(id, List.of(ONE_TOKEN), new long[0], Sampling.greedy(steps), null);
  }

  /** A model stand-in that records admissions; a sequence finishes after maxNewTokens steps. */
  static final class FakeModel implements RunningBatch.Factory {
    final List<Integer> admissions = new CopyOnWriteArrayList<>();
    final List<Integer> activeAtStep = Collections.synchronizedList(new ArrayList<>());
    volatile Runnable onStep = () -> {};

    @Override
    public RunningBatch open() {
      return new RunningBatch() {
        final List<int[]> remaining = new ArrayList<>();
        final List<Prompt> prompts = new ArrayList<>();

        @Override
        public List<Completion> admit(List<Prompt> ps) {
          admissions.add(ps.size());
          for (Prompt p : ps) {
            prompts.add(p);
            remaining.add(new int[] {p.sampling().maxNewTokens()});
          }
          return List.of();
        }

        @Override
        public List<Completion> step() {
          activeAtStep.add(prompts.size());
          onStep.run();
          List<Completion> done = new ArrayList<>();
          for (int i = prompts.size() - 1; i >= 0; i--) {
            if (--remaining.get(i)[0] == 0) {
              done.add(
                  new Completion(
                      prompts.remove(i),
                      "ok",
                      new long[0],
                      1,
                      Completion.Finish.LENGTH,
                      List.of()));
              remaining.remove(i);
            }
          }
          Collections.reverse(done);
          return done;
        }

        @Override
        public int active() {
          return prompts.size();
        }

        @Override
        public void close() {}
      };
    }
  }

  private static PromptBatcher batcher(
      RunningBatch.Factory model, int maxBatch, Duration maxWait, int maxQueue, Scheduler timer) {
    return new PromptBatcher(
        model,
        new PromptBatcher.Config(maxBatch, maxWait, maxQueue),
        Schedulers.immediate(),
        timer,
        new SimpleMeterRegistry());
  }

  @Test
  void aFailingModelCancelsUpstreamPropagatesTheErrorAndDiscardsWhatWaited() throws Exception {
    FakeModel model = new FakeModel();
    java.util.concurrent.CountDownLatch othersQueued = new java.util.concurrent.CountDownLatch(1);
    model.onStep =
        () -> {
          try {
            othersQueued.await(); // the first step fails once b and c wait behind it
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          throw new IllegalStateException("CUDA out of memory (simulated)");
        };
    TestPublisher<Prompt> upstream = TestPublisher.create();
    Scheduler modelThread = Schedulers.newSingle("test-model");
    try {
      PromptBatcher b =
          new PromptBatcher(
              model,
              new PromptBatcher.Config(1, Duration.ZERO, 8),
              modelThread,
              Schedulers.parallel(),
              new SimpleMeterRegistry());
      StepVerifier.create(b.process(upstream.flux()))
          .then(() -> upstream.next(prompt("a", 3)))
          .then(() -> waitFor(() -> model.activeAtStep.size() == 1)) // a is being decoded
          .then(() -> upstream.next(prompt("b", 3), prompt("c", 3)))
          .then(othersQueued::countDown)
          .expectErrorMessage("CUDA out of memory (simulated)")
          .verifyThenAssertThat(Duration.ofSeconds(10))
          // a was in the failed batch; b and c were waiting: dropped, to the discard hook
          .hasDiscardedElementsSatisfying(
              d -> assertThat(d).extracting(p -> ((Prompt) p).id()).containsExactly("b", "c"));
      upstream.assertCancelled();
      assertThat(b.signals().queueDepth()).isZero();
      assertThat(b.signals().activeBatchSize()).isZero();
    } finally {
      modelThread.dispose();
    }
  }

  private static void waitFor(java.util.function.BooleanSupplier condition) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met in 10 s");
      }
      Thread.onSpinWait();
    }
  }

  @Test
  void admissionsPerStepStayWithinMaxStepTokensWithDecodeStepsBetween() {
    FakeModel model = new FakeModel();
    List<Prompt> ten = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      ten.add(prompt("p" + i, 20)); // 2 positions each, 20 decode steps
    }
    PromptBatcher b =
        new PromptBatcher(
            model,
            new PromptBatcher.Config(8, Duration.ofSeconds(10), 16, 6),
            Schedulers.immediate(),
            Schedulers.parallel(),
            new SimpleMeterRegistry());
    StepVerifier.create(b.process(Flux.fromIterable(ten))).expectNextCount(10).verifyComplete();
    // 6 positions per step: 3 prompts, a decode step, 3 more, a step, then the room left (2);
    // the last two join when the first ones finish
    assertThat(model.admissions.subList(0, 3)).containsExactly(3, 3, 2);
    assertThat(model.activeAtStep.subList(0, 3)).containsExactly(3, 6, 8);
    assertThat(model.admissions.stream().mapToInt(Integer::intValue).sum()).isEqualTo(10);
  }

  @Test
  void aLonePromptWaitsMaxWaitThenRuns() {
    FakeModel model = new FakeModel();
    StepVerifier.withVirtualTime(
            () -> {
              PromptBatcher b =
                  batcher(model, 4, Duration.ofMillis(50), 16, VirtualTimeScheduler.get());
              return b.process(Flux.just(prompt("p", 2)).concatWith(Flux.never()));
            })
        .expectSubscription()
        .expectNoEvent(Duration.ofMillis(49))
        .then(() -> assertThat(model.admissions).isEmpty())
        .thenAwait(Duration.ofMillis(1))
        .assertNext(c -> assertThat(c.prompt().id()).isEqualTo("p"))
        .then(() -> assertThat(model.admissions).containsExactly(1))
        .thenCancel()
        .verify(Duration.ofSeconds(5));
  }

  @Test
  void aFullBatchStartsAtOnceAndNeverExceedsMaxBatch() {
    FakeModel model = new FakeModel();
    List<Prompt> ten = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      ten.add(prompt("p" + i, 3));
    }
    StepVerifier.withVirtualTime(
            () ->
                batcher(model, 4, Duration.ofSeconds(10), 16, VirtualTimeScheduler.get())
                    .process(Flux.fromIterable(ten).concatWith(Flux.never())))
        .expectSubscription()
        .expectNextCount(8) // two full batches start at once, no virtual time passes
        .expectNoEvent(Duration.ofMillis(9_999)) // the last two wait for company...
        .thenAwait(Duration.ofMillis(1)) // ...until the oldest has waited maxWait
        .expectNextCount(2)
        .thenCancel()
        .verify(Duration.ofSeconds(5));
    assertThat(model.admissions).containsExactly(4, 4, 2);
    assertThat(model.activeAtStep).allMatch(n -> n <= 4);
    assertThat(model.admissions.stream().mapToInt(Integer::intValue).sum()).isEqualTo(10);
  }

  @Test
  void promptsJoinARunningBatchAtTheNextStepWithoutWaiting() {
    FakeModel model = new FakeModel();
    TestPublisher<Prompt> source = TestPublisher.create();
    int[] steps = {0};
    // The second prompt arrives while the first is decoding (during its 2nd step).
    model.onStep =
        () -> {
          if (++steps[0] == 2) {
            source.next(prompt("late", 2));
          }
        };
    StepVerifier.withVirtualTime(
            () ->
                batcher(model, 4, Duration.ofMillis(10), 16, VirtualTimeScheduler.get())
                    .process(source.flux()))
        .expectSubscription()
        .then(() -> source.next(prompt("first", 5)))
        .thenAwait(Duration.ofMillis(10)) // the first prompt waited maxWait: its batch starts
        .expectNextMatches(c -> c.prompt().id().equals("late")) // joined at step 3, done after 2
        .expectNextMatches(c -> c.prompt().id().equals("first"))
        .then(
            () -> {
              assertThat(model.admissions).containsExactly(1, 1);
              assertThat(model.activeAtStep).containsExactly(1, 1, 2, 2, 1);
            })
        .thenCancel()
        .verify(Duration.ofSeconds(5));
  }

  @Test
  void demandPropagatesUpstreamAndNothingBuffersWithoutBound() {
    FakeModel model = new FakeModel();
    TestPublisher<Prompt> source = TestPublisher.create();
    StepVerifier.withVirtualTime(
            () ->
                batcher(model, 8, Duration.ZERO, 4, VirtualTimeScheduler.get())
                    .process(source.flux()),
            0)
        .expectSubscription()
        .then(
            () ->
                source.assertMaxRequested(4)) // only maxQueue, though downstream asked for nothing
        .then(() -> source.next(prompt("a", 1), prompt("b", 1), prompt("c", 1), prompt("d", 1)))
        .expectNoEvent(Duration.ofSeconds(1))
        .then(() -> assertThat(model.admissions).as("no demand, no admission").isEmpty())
        .then(() -> source.assertMaxRequested(0)) // queue full: upstream gets no more requests
        .thenRequest(2)
        .expectNextCount(2)
        .then(() -> assertThat(model.admissions).containsExactly(2))
        .then(() -> source.assertMaxRequested(2)) // the two admitted freed two places
        .thenRequest(10)
        .expectNextCount(2)
        .then(source::complete)
        .verifyComplete();
  }

  @Test
  void withTheRealModelEveryPromptGetsTheAnswerItGetsAlone(@TempDir Path dir) throws Exception {
    try (Reasoner r = ReasonerTestSupport.reasoner(dir)) {
      List<Prompt> prompts = new ArrayList<>();
      for (int i = 0; i < 7; i++) {
        prompts.add(
            r.prompt(
                "q" + i,
                ReasonerTestSupport.frames(1 + i % 3, 1 + i, 32, i),
                "how many shapes are there ?",
                Sampling.greedy(3 + i),
                null));
      }
      Map<String, Completion> alone =
          prompts.stream()
              .map(p -> r.generate(List.of(p)).get(0))
              .collect(Collectors.toMap(c -> c.prompt().id(), Function.identity()));
      Scheduler model = Schedulers.newBoundedElastic(1, 64, "test-model");
      try {
        PromptBatcher b =
            new PromptBatcher(
                r,
                new PromptBatcher.Config(3, Duration.ofMillis(5), 8),
                model,
                Schedulers.parallel(),
                new SimpleMeterRegistry());
        List<Completion> got =
            b.process(Flux.fromIterable(prompts).delayElements(Duration.ofMillis(3)))
                .collectList()
                .block(Duration.ofSeconds(60));
        assertThat(got).hasSize(7);
        for (Completion c : got) {
          assertThat(c.tokens())
              .as(c.prompt().id())
              .containsExactly(alone.get(c.prompt().id()).tokens());
        }
        assertThat(b.signals().steps()).isPositive();
      } finally {
        model.dispose();
      }
    }
  }
}
