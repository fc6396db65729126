package io.mqtstream.ingest;

import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.FrameRecordSerde;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.FluxSink;

/**
 * One subscription of {@link KafkaFrameSource}: a consumer and the single thread that owns it.
 * Everything but {@link #request}, {@link #acked} and {@link #stop} runs on that thread.
 *
 * <p>Under exactly-once delivery the thread also owns a transactional producer: every commit is a
 * transaction holding the released frames' outputs and their offsets ({@code
 * sendOffsetsToTransaction} with the consumer's group metadata, so a member fenced by a rebalance
 * cannot commit). An aborted transaction rewinds its partitions to their committed offsets.
 */
final class FramePoller implements ConsumerRebalanceListener {
  private static final Logger log = LoggerFactory.getLogger(FramePoller.class);

  private final FrameSourceConfig config;
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final DeadLetterPublisher deadLetters;
  private final FluxSink<Frame> sink;
  private final KafkaFrameSource.Stats stats;
  private final FrameRecordSerde serde = new FrameRecordSerde();
  private final KafkaProducer<byte[], byte[]> transactions; // null: at-least-once
  private final Thread thread;
  private final java.util.function.Consumer<FramePoller> onTerminated;

  // Signals from other threads.
  private final AtomicLong demand = new AtomicLong();
  private final ConcurrentLinkedQueue<Ack> acks = new ConcurrentLinkedQueue<>();
  private final Semaphore wake = new Semaphore(0);
  private volatile boolean stopping;
  private volatile boolean cancelled;
  private volatile boolean sleeping;

  // Poll-thread state.
  private final OffsetTracker offsets = new OffsetTracker();
  private final ArrayDeque<Frame> buffered = new ArrayDeque<>();
  private boolean paused;
  private long lastCommitNanos = System.nanoTime();

  FramePoller(
      FrameSourceConfig config,
      Properties consumerProperties,
      Properties transactionalProducerProperties,
      DeadLetterPublisher deadLetters,
      FluxSink<Frame> sink,
      KafkaFrameSource.Stats stats,
      String threadName,
      java.util.function.Consumer<FramePoller> onTerminated) {
    this.config = config;
    Map<String, Object> settings = new HashMap<>();
    consumerProperties.forEach((k, v) -> settings.put(k.toString(), v));
    serde.configure(settings, false); // e.g. mqt.frame.max.payload.bytes from the client properties
    this.consumer = new KafkaConsumer<>(consumerProperties);
    this.transactions =
        transactionalProducerProperties == null
            ? null
            : new KafkaProducer<>(transactionalProducerProperties);
    this.deadLetters = deadLetters;
    this.sink = sink;
    this.stats = stats;
    this.onTerminated = onTerminated;
    this.thread = new Thread(this::run, threadName);
    this.thread.setDaemon(true);
    sink.onRequest(this::request);
    sink.onCancel(
        () -> {
          cancelled = true;
          wake.release();
        });
  }

  void start() {
    thread.start();
  }

  void stop() {
    stopping = true;
    wake.release();
    consumer.wakeup();
  }

  void awaitTermination() {
    try {
      thread.join(config.drainTimeout().toMillis() + 5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void request(long n) {
    demand.accumulateAndGet(n, (a, b) -> a + b < 0 ? Long.MAX_VALUE : a + b);
    wake.release();
  }

  private void run() {
    Throwable failure = null;
    try {
      if (transactions != null) {
        transactions.initTransactions(); // fences an earlier producer with the same id
      }
      consumer.subscribe(List.of(config.topic()), this);
      long drainDeadline = Long.MAX_VALUE;
      while (!cancelled) {
        drainAcks();
        if (stopping) {
          if (drainDeadline == Long.MAX_VALUE) {
            drainDeadline = System.nanoTime() + config.drainTimeout().toNanos();
            dropBuffered();
          }
          if (offsets.pending() == 0 || System.nanoTime() > drainDeadline) {
            break;
          }
        } else {
          emitBuffered();
        }
        commitIfDue();
        boolean fetch =
            !stopping
                && demand.get() > 0
                && offsets.pending() + config.maxPollRecords() <= config.maxInFlight();
        setPaused(!fetch);
        if (fetch) {
          handle(poll(config.pollTimeout()));
        } else {
          handle(poll(Duration.ZERO)); // keeps the group membership alive
          sleepUntilSignalled();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Throwable t) {
      failure = t;
      log.error("frame source {} failed", thread.getName(), t);
    } finally {
      close(failure);
    }
  }

  /** Commits what was acknowledged, signals the end downstream, then closes the consumer. */
  private void close(Throwable failure) {
    try {
      drainAcks();
      commitFinal();
    } catch (RuntimeException e) {
      log.warn("final commit failed: {}", e.toString());
    }
    stats.inFlight(-offsets.forgetAll()); // outputs never committed learn it here
    // Completion means "everything acknowledged is committed"; closing the consumer is cleanup
    // (it may wait out a pending fetch) and need not delay downstream.
    if (failure != null) {
      sink.error(failure);
    } else if (!cancelled) {
      sink.complete();
    }
    try {
      consumer.close(Duration.ofSeconds(5));
    } catch (RuntimeException e) {
      log.warn("consumer close failed: {}", e.toString());
    } finally {
      if (transactions != null) {
        try {
          transactions.close(Duration.ofSeconds(5)); // aborts an open transaction
        } catch (RuntimeException e) {
          log.warn("transactional producer close failed: {}", e.toString());
        }
      }
      onTerminated.accept(this);
    }
  }

  private void commitFinal() {
    try {
      commit(true);
    } catch (WakeupException e) {
      commit(true); // a stop() raced with the commit: the wake-up is spent, commit again
    }
  }

  /** A poll that a {@link #stop()} may cut short. */
  private ConsumerRecords<byte[], byte[]> poll(Duration timeout) {
    try {
      return consumer.poll(timeout);
    } catch (WakeupException e) {
      return ConsumerRecords.empty();
    }
  }

  /**
   * Waits for an ack, new demand or a stop, at most one poll timeout. Signallers release the
   * semaphore only while this thread sleeps, so the hot path (acks while running) costs no wake-up.
   */
  private void sleepUntilSignalled() throws InterruptedException {
    wake.drainPermits();
    sleeping = true;
    try {
      if (acks.isEmpty() && !stopping && !cancelled && !(demand.get() > 0 && !buffered.isEmpty())) {
        wake.tryAcquire(config.pollTimeout().toMillis(), TimeUnit.MILLISECONDS);
      }
    } finally {
      sleeping = false;
    }
  }

  private void signal() {
    if (sleeping) {
      wake.release();
    }
  }

  private void handle(ConsumerRecords<byte[], byte[]> records) {
    if (records.isEmpty()) {
      return;
    }
    stats.inFlight(records.count());
    for (ConsumerRecord<byte[], byte[]> r : records) {
      OffsetTracker.Position position =
          offsets.track(new TopicPartition(r.topic(), r.partition()), r.offset());
      FrameRecord frame;
      try {
        frame = serde.read(r.value() == null ? new byte[0] : r.value());
      } catch (RuntimeException e) {
        deadLetter(r, position, e);
        continue;
      }
      buffered.addLast(
          new Frame(
              frame,
              r.topic(),
              r.partition(),
              r.offset(),
              headers(r),
              () -> acked(position),
              transactions == null ? null : outputs -> ackedWith(position, outputs)));
    }
  }

  private static Map<String, byte[]> headers(ConsumerRecord<byte[], byte[]> r) {
    Header[] all = r.headers().toArray();
    if (all.length == 0) {
      return Map.of();
    }
    Map<String, byte[]> headers = new HashMap<>();
    for (Header h : all) {
      headers.put(h.key(), h.value());
    }
    return headers;
  }

  private void deadLetter(
      ConsumerRecord<byte[], byte[]> r, OffsetTracker.Position position, Exception e) {
    log.warn(
        "{}-{}@{} cannot be read, sending to {}: {}",
        r.topic(),
        r.partition(),
        r.offset(),
        deadLetters.topic(),
        e.getMessage());
    long offset = r.offset();
    if (transactions != null) {
      ProducerRecord<byte[], byte[]> letter =
          deadLetters.record(
              r.key(),
              r.value(),
              r.headers(),
              new DeadLetterPublisher.SourcePosition(r.topic(), r.partition(), offset),
              e);
      ackedWith(position, List.of(letter))
          .whenComplete(
              (ok, err) -> {
                if (err == null) {
                  stats.onDeadLettered();
                }
              });
      return;
    }
    deadLetters
        .publish(
            r.key(),
            r.value(),
            r.headers(),
            new DeadLetterPublisher.SourcePosition(r.topic(), r.partition(), offset),
            e)
        .whenComplete(
            (meta, err) -> {
              if (err == null) {
                stats.onDeadLettered();
                acked(position);
              } else {
                // Not acknowledged: the record stays uncommitted and is read again after a restart.
                log.error(
                    "dead-letter publish failed for {}@{}", position.partition(), offset, err);
              }
            });
  }

  /** An acknowledgement on its way to the poll thread; outputs only under exactly-once. */
  private record Ack(OffsetTracker.Position position, OffsetTracker.Outputs outputs) {}

  private void acked(OffsetTracker.Position position) {
    acks.add(new Ack(position, null));
    signal();
  }

  private CompletableFuture<Void> ackedWith(
      OffsetTracker.Position position, List<ProducerRecord<byte[], byte[]>> records) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    acks.add(new Ack(position, new OffsetTracker.Outputs(records, done)));
    signal();
    return done;
  }

  private void emitBuffered() {
    while (!buffered.isEmpty() && !cancelled) {
      long d = demand.get();
      if (d == 0) {
        return;
      }
      if (d != Long.MAX_VALUE) {
        demand.decrementAndGet();
      }
      stats.onDelivered();
      sink.next(buffered.pollFirst());
    }
  }

  private void dropBuffered() {
    // Never delivered: they stay uncommitted and are read again by the next owner.
    for (Frame f : buffered) {
      if (offsets.untrack(new TopicPartition(f.topic(), f.partition()), f.offset())) {
        stats.inFlight(-1);
      }
    }
    buffered.clear();
  }

  private void drainAcks() {
    int released = 0;
    Ack ack;
    while ((ack = acks.poll()) != null) {
      released +=
          ack.outputs() == null
              ? offsets.ack(ack.position())
              : offsets.ack(ack.position(), ack.outputs());
    }
    if (released > 0) {
      stats.inFlight(-released);
    }
  }

  private void commitIfDue() {
    if (System.nanoTime() - lastCommitNanos >= config.commitInterval().toNanos()) {
      commit(false);
    }
  }

  private void commit(boolean sync) {
    commit(null, sync);
  }

  /** Commits the partitions' (all when null) acknowledged positions that moved. */
  private void commit(Collection<TopicPartition> tps, boolean sync) {
    lastCommitNanos = System.nanoTime();
    Map<TopicPartition, OffsetAndMetadata> committable = offsets.takeCommittable(tps);
    if (committable.isEmpty()) {
      return;
    }
    if (transactions != null) {
      commitTransaction(committable, offsets.takeReady(tps));
    } else if (sync) {
      consumer.commitSync(committable);
      stats.onCommitted();
    } else {
      consumer.commitAsync(
          committable,
          (o, e) -> {
            if (e != null) {
              log.warn("offset commit failed (next commit retries): {}", e.toString());
              offsets.retry(o.keySet());
            } else {
              stats.onCommitted();
            }
          });
    }
  }

  /**
   * One transaction: the released frames' outputs, then their offsets. Fatal producer errors end
   * the stream; any other failure aborts, fails the outputs' futures and rewinds the partitions, so
   * their frames are read and answered again.
   */
  private void commitTransaction(
      Map<TopicPartition, OffsetAndMetadata> committable, List<OffsetTracker.Outputs> outputs) {
    try {
      transactions.beginTransaction();
      for (OffsetTracker.Outputs o : outputs) {
        for (ProducerRecord<byte[], byte[]> r : o.records()) {
          transactions.send(r); // a failed send fails commitTransaction
        }
      }
      transactions.sendOffsetsToTransaction(committable, consumer.groupMetadata());
      transactions.commitTransaction();
    } catch (ProducerFencedException
        | OutOfOrderSequenceException
        | AuthorizationException
        | UnsupportedVersionException e) {
      outputs.forEach(o -> o.done().completeExceptionally(e));
      throw e; // this producer can do no more: the stream fails, the frames are read again
    } catch (KafkaException e) {
      log.warn("transaction over {} aborted, rewinding: {}", committable.keySet(), e.toString());
      try {
        transactions.abortTransaction();
      } catch (KafkaException abortFailed) {
        outputs.forEach(o -> o.done().completeExceptionally(e));
        throw abortFailed;
      }
      outputs.forEach(o -> o.done().completeExceptionally(e));
      rewind(committable.keySet());
      return;
    }
    outputs.forEach(o -> o.done().complete(null));
    stats.onCommitted();
  }

  /** Forgets the partitions' frames in flight and reads them again from the committed offsets. */
  private void rewind(Set<TopicPartition> tps) {
    forget(tps);
    Set<TopicPartition> owned = new HashSet<>(tps);
    owned.retainAll(consumer.assignment());
    if (owned.isEmpty()) {
      return;
    }
    Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(owned);
    for (TopicPartition tp : owned) {
      OffsetAndMetadata at = committed.get(tp);
      if (at == null) {
        consumer.seekToBeginning(List.of(tp));
      } else {
        consumer.seek(tp, at.offset());
      }
    }
  }

  private void setPaused(boolean pause) {
    Set<TopicPartition> assigned = consumer.assignment();
    if (pause && !paused) {
      consumer.pause(assigned);
      stats.onPaused();
    } else if (!pause && paused) {
      consumer.resume(assigned);
    }
    paused = pause;
  }

  @Override
  public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
    drainAcks();
    try {
      commit(revoked, true);
    } catch (RuntimeException e) {
      log.warn("commit on revocation failed: {}", e.toString());
    }
    forget(revoked);
  }

  @Override
  public void onPartitionsLost(Collection<TopicPartition> lost) {
    forget(lost);
  }

  @Override
  public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
    if (paused) {
      consumer.pause(assigned); // a new partition must not fetch while we have no demand
    }
    log.info("{} assigned {}", thread.getName(), assigned);
  }

  private void forget(Collection<TopicPartition> tps) {
    stats.inFlight(-offsets.forget(tps));
    for (Iterator<Frame> it = buffered.iterator(); it.hasNext(); ) {
      Frame f = it.next();
      if (tps.contains(new TopicPartition(f.topic(), f.partition()))) {
        it.remove();
      }
    }
  }
}
