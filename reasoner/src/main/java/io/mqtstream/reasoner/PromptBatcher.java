package io.mqtstream.reasoner;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.reactivestreams.Subscription;
import reactor.core.CoreSubscriber;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Operators;
import reactor.core.scheduler.Scheduler;
import reactor.util.context.Context;

/**
 * Batches prompts for the LLM with iteration-level ("continuous") batching: a batch starts when
 * {@code maxBatch} prompts wait or the oldest has waited {@code maxWait}; while it decodes, new
 * prompts join at the next decode step and finished ones leave at once.
 *
 * <p>Backpressure: at most {@code maxQueue} prompts are requested from upstream and not yet
 * admitted; a prompt is admitted only while downstream has demand for its completion, so nothing
 * buffers without bound. Model work runs on the given (bounded) scheduler, one loop at a time,
 * never on the caller's thread; {@code maxWait} is measured on the timer scheduler, so tests can
 * use virtual time. The queue depth, the active batch size and the step latency are exposed as
 * {@link #signals()} for the token budget and as meters {@code mqt.reasoner.*}.
 */
public final class PromptBatcher {
  private final RunningBatch.Factory model;
  private final Config config;
  private final Scheduler modelScheduler;
  private final Scheduler timer;
  private final Signals signals = new Signals();
  private final DistributionSummary batchSizes;
  private final Timer stepTimer;

  /**
   * @param maxBatch most sequences decoding together
   * @param maxWait longest a first prompt waits for others before a batch starts
   * @param maxQueue most prompts taken from upstream and not yet admitted
   * @param maxStepTokens most prompt positions admitted (prefilled) in one step, 0 = no bound: a
   *     prefill blocks the running batch's decoding, so this bounds the step latency (one prompt is
   *     always admitted, however long)
   */
  public record Config(int maxBatch, Duration maxWait, int maxQueue, int maxStepTokens) {
    public Config(int maxBatch, Duration maxWait, int maxQueue) {
      this(maxBatch, maxWait, maxQueue, 0);
    }

    public Config {
      if (maxStepTokens < 0) {
        throw new IllegalArgumentException(
            "reasoner.maxStepTokens: must be >= 0, got " + maxStepTokens);
      }
      if (maxBatch < 1) {
        throw new IllegalArgumentException("reasoner.maxBatch: must be >= 1, got " + maxBatch);
      }
      if (maxWait == null || maxWait.isNegative()) {
        throw new IllegalArgumentException("reasoner.maxWait: must be >= 0");
      }
      if (maxQueue < 1) {
        throw new IllegalArgumentException("reasoner.maxQueue: must be >= 1, got " + maxQueue);
      }
    }
  }

  /** Live load signals of the batcher, read by the token budget. */
  public static final class Signals {
    private final AtomicInteger queueDepth = new AtomicInteger();
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicLong lastStepNanos = new AtomicLong();
    private final AtomicLong steps = new AtomicLong();
    private final AtomicLong busyNanos = new AtomicLong();

    /** Prompts taken from upstream, waiting for admission. */
    public int queueDepth() {
      return queueDepth.get();
    }

    /** Sequences in the running batch. */
    public int activeBatchSize() {
      return active.get();
    }

    /** Duration of the last decode step or prefill. */
    public Duration lastStepLatency() {
      return Duration.ofNanos(lastStepNanos.get());
    }

    /** Time spent in model steps so far: its growth over wall time is the model's utilisation. */
    public long busyNanos() {
      return busyNanos.get();
    }

    /** Decode steps and prefills run so far. */
    public long steps() {
      return steps.get();
    }
  }

  public PromptBatcher(
      RunningBatch.Factory model,
      Config config,
      Scheduler modelScheduler,
      Scheduler timer,
      MeterRegistry meters) {
    this.model = model;
    this.config = config;
    this.modelScheduler = modelScheduler;
    this.timer = timer;
    meters.gauge("mqt.reasoner.queue", signals.queueDepth);
    meters.gauge("mqt.reasoner.active", signals.active);
    this.batchSizes = meters.summary("mqt.reasoner.batch.size");
    this.stepTimer = meters.timer("mqt.reasoner.step");
  }

  public Signals signals() {
    return signals;
  }

  /** Completions of the prompts, in the order they finish; one per prompt. */
  public Flux<Completion> process(Flux<Prompt> prompts) {
    return Flux.create(sink -> new Loop(sink).start(prompts), FluxSink.OverflowStrategy.ERROR);
  }

  /** One subscription: the queue, the running batch and the drain loop. */
  private final class Loop implements CoreSubscriber<Prompt> {
    private final FluxSink<Completion> sink;
    private final ConcurrentLinkedQueue<Queued> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger wip = new AtomicInteger();
    private final Scheduler.Worker worker = modelScheduler.createWorker();
    private volatile Subscription upstream;
    private volatile boolean upstreamDone;
    private volatile Throwable upstreamError;
    private volatile boolean cancelled;
    private volatile Disposable wakeUp;
    private volatile boolean wakePending;
    private RunningBatch batch;

    Loop(FluxSink<Completion> sink) {
      this.sink = sink;
    }

    void start(Flux<Prompt> prompts) {
      sink.onRequest(n -> drain());
      sink.onCancel(
          () -> {
            cancelled = true;
            cancelUpstream();
            drain();
          });
      prompts.subscribe(this);
    }

    @Override
    public void onSubscribe(Subscription s) {
      upstream = s;
      s.request(config.maxQueue());
    }

    @Override
    public void onNext(Prompt p) {
      queue.add(new Queued(p, timer.now(TimeUnit.NANOSECONDS)));
      signals.queueDepth.incrementAndGet();
      drain();
    }

    @Override
    public void onError(Throwable t) {
      upstreamError = t;
      upstreamDone = true;
      drain();
    }

    @Override
    public void onComplete() {
      upstreamDone = true;
      drain();
    }

    private void drain() {
      if (wip.getAndIncrement() == 0) {
        worker.schedule(this::loop);
      }
    }

    private void loop() {
      int missed = 1;
      while (true) {
        if (cancelled) {
          shutdown();
          return;
        }
        try {
          admit();
          if (batch != null && batch.active() > 0) {
            run(batch::step);
            continue; // keep decoding; new prompts are looked at before every step
          }
        } catch (RuntimeException e) {
          // as Reactor's operators do: stop the source, hand what waited to the discard hook
          cancelUpstream();
          shutdown();
          sink.error(e);
          return;
        }
        if (upstreamDone && queue.isEmpty() && (batch == null || batch.active() == 0)) {
          shutdown();
          if (upstreamError != null) {
            sink.error(upstreamError);
          } else {
            sink.complete();
          }
          return;
        }
        missed = wip.addAndGet(-missed);
        if (missed == 0) {
          return;
        }
      }
    }

    /** Admits waiting prompts if a batch runs, is full, or the oldest waited long enough. */
    private void admit() {
      Queued oldest = queue.peek();
      if (oldest == null) {
        return;
      }
      int active = batch == null ? 0 : batch.active();
      long waited = timer.now(TimeUnit.NANOSECONDS) - oldest.arrivedNanos;
      boolean start =
          active > 0
              || queue.size() >= config.maxBatch()
              || upstreamDone
              || waited >= config.maxWait().toNanos();
      if (!start) {
        scheduleWakeUp(config.maxWait().toNanos() - waited);
        return;
      }
      long demand = sink.requestedFromDownstream() - active;
      int room = (int) Math.min(config.maxBatch() - active, demand);
      List<Prompt> joining = new ArrayList<>();
      int tokens = 0;
      while (joining.size() < room && !queue.isEmpty()) {
        int length = queue.peek().prompt.length();
        if (config.maxStepTokens() > 0
            && !joining.isEmpty()
            && tokens + length > config.maxStepTokens()) {
          break; // the rest joins after the next decode step
        }
        tokens += length;
        joining.add(queue.poll().prompt);
      }
      if (joining.isEmpty()) {
        return;
      }
      signals.queueDepth.addAndGet(-joining.size());
      upstream.request(joining.size());
      if (batch == null) {
        batch = model.open();
      }
      batchSizes.record(active + joining.size());
      run(() -> batch.admit(joining));
    }

    private void run(java.util.function.Supplier<List<Completion>> work) {
      long t0 = System.nanoTime();
      List<Completion> finished = work.get();
      long took = System.nanoTime() - t0;
      signals.lastStepNanos.set(took);
      signals.busyNanos.addAndGet(took);
      signals.steps.incrementAndGet();
      signals.active.set(batch.active());
      stepTimer.record(took, TimeUnit.NANOSECONDS);
      if (batch.active() == 0) { // an idle batch gives its native memory back
        batch.close();
        batch = null;
      }
      finished.forEach(sink::next);
    }

    /** At most one pending wake-up: the oldest prompt's deadline only moves later. */
    private void scheduleWakeUp(long inNanos) {
      if (!wakePending) {
        wakePending = true;
        wakeUp =
            timer.schedule(
                () -> {
                  wakePending = false;
                  drain();
                },
                Math.max(0, inNanos),
                TimeUnit.NANOSECONDS);
      }
    }

    private void cancelUpstream() {
      Subscription s = upstream;
      if (s != null) {
        s.cancel();
      }
    }

    /** Ends the loop: the batch closed, waiting prompts dropped (to the discard hook). */
    private void shutdown() {
      Disposable w = wakeUp;
      if (w != null) {
        w.dispose();
      }
      if (batch != null) {
        batch.close();
        batch = null;
      }
      signals.active.set(0);
      List<Prompt> dropped = new ArrayList<>();
      for (Queued q; (q = queue.poll()) != null; ) {
        dropped.add(q.prompt);
      }
      signals.queueDepth.addAndGet(-dropped.size());
      Operators.onDiscardMultiple(dropped, Context.of(sink.contextView()));
      worker.dispose();
    }
  }

  private record Queued(Prompt prompt, long arrivedNanos) {}
}
