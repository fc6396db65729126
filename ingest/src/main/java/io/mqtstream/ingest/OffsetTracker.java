package io.mqtstream.ingest;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * Which offsets may be committed. Records are tracked per partition in the order they were read
 * (offset order, gaps allowed: compaction and transaction markers leave holes); acknowledgements
 * come in any order; a partition's commit position is one past the last offset up to which every
 * tracked record was acknowledged. A revoked partition is forgotten, and a late acknowledgement for
 * it is ignored: its new owner reads it again.
 *
 * <p>Under exactly-once delivery an acknowledgement carries the frame's {@link Outputs}; they are
 * released with the commit position, in offset order, so a transaction that commits a position
 * carries exactly the outputs of the records before it ({@link #takeReady}).
 *
 * <p>Not thread-safe: the poll thread owns it.
 */
final class OffsetTracker {
  private final Map<TopicPartition, PartitionState> partitions = new HashMap<>();
  private int pending;

  /** A tracked record: the handle its acknowledgement is made with. */
  record Position(PartitionState state, long offset) {
    TopicPartition partition() {
      return state.tp;
    }
  }

  /**
   * The records one frame produced, to be written in the transaction that commits its offset, and
   * what learns the transaction's outcome.
   */
  record Outputs(List<ProducerRecord<byte[], byte[]>> records, CompletableFuture<Void> done) {}

  private static final Outputs NONE = new Outputs(List.of(), null);

  /** Starts tracking a record just read; offsets of a partition must come in increasing order. */
  Position track(TopicPartition tp, long offset) {
    PartitionState state = partitions.computeIfAbsent(tp, PartitionState::new);
    Long last = state.pending.peekLast();
    if (last != null && offset <= last) {
      throw new IllegalArgumentException(tp + ": offset " + offset + " after " + last);
    }
    state.pending.addLast(offset);
    pending++;
    return new Position(state, offset);
  }

  /**
   * Acknowledges a tracked record.
   *
   * @return how many records this released (they no longer hold the commit position back): 0 for an
   *     acknowledgement out of order, of a forgotten partition, or a repeated one
   */
  int ack(Position p) {
    return ack(p, NONE);
  }

  /**
   * Acknowledges a tracked record with the outputs to write with its offset (exactly-once).
   *
   * @return as {@link #ack(Position)}; when the acknowledgement does not count (its partition was
   *     revoked, or it is a repeat) the outputs' future fails
   */
  int ack(Position p, Outputs outputs) {
    PartitionState state = p.state();
    if (partitions.get(state.tp) != state) {
      fail(outputs, new IllegalStateException(state.tp + " was revoked before the frame was done"));
      return 0; // revoked since it was read
    }
    if (state.pending.isEmpty() || state.pending.peekFirst() != p.offset()) {
      if (state.pending.contains(p.offset()) && !state.acked.containsKey(p.offset())) {
        state.acked.put(p.offset(), outputs); // out of order: waits for the earlier ones
      } else {
        fail(outputs, new IllegalStateException("offset " + p.offset() + " acknowledged twice"));
      }
      return 0;
    }
    state.pending.pollFirst(); // in order, the common case: no map round-trip
    state.release(outputs);
    long position = p.offset() + 1;
    int released = 1;
    while (!state.pending.isEmpty() && state.acked.containsKey(state.pending.peekFirst())) {
      state.release(state.acked.remove(state.pending.peekFirst()));
      position = state.pending.pollFirst() + 1;
      released++;
    }
    state.commitPosition = position;
    state.dirty = true;
    pending -= released;
    return released;
  }

  /** Stops tracking a record that was never handed out (it will be read again); true if tracked. */
  boolean untrack(TopicPartition tp, long offset) {
    PartitionState s = partitions.get(tp);
    if (s != null && s.pending.remove(offset)) {
      s.acked.remove(offset);
      pending--;
      return true;
    }
    return false;
  }

  /**
   * The positions to commit for the given partitions (all when {@code null}) that moved since they
   * were last taken; they count as committed from now on (see {@link #retry}).
   */
  Map<TopicPartition, OffsetAndMetadata> takeCommittable(Collection<TopicPartition> tps) {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    Collection<PartitionState> states =
        tps == null ? partitions.values() : tps.stream().map(partitions::get).toList();
    for (PartitionState s : states) {
      if (s != null && s.dirty) {
        offsets.put(s.tp, new OffsetAndMetadata(s.commitPosition));
        s.dirty = false;
      }
    }
    return offsets;
  }

  /**
   * The outputs released with the positions of these partitions (all when {@code null}), in offset
   * order per partition; taken once.
   */
  List<Outputs> takeReady(Collection<TopicPartition> tps) {
    List<Outputs> ready = new ArrayList<>();
    Collection<PartitionState> states =
        tps == null ? partitions.values() : tps.stream().map(partitions::get).toList();
    for (PartitionState s : states) {
      if (s != null) {
        ready.addAll(s.ready);
        s.ready.clear();
      }
    }
    return ready;
  }

  /** A commit of these partitions failed: their positions are offered again next time. */
  void retry(Collection<TopicPartition> tps) {
    for (TopicPartition tp : tps) {
      PartitionState s = partitions.get(tp);
      if (s != null && s.commitPosition >= 0) {
        s.dirty = true;
      }
    }
  }

  /**
   * Forgets revoked or lost partitions.
   *
   * @return how many tracked, unacknowledged records they held
   */
  int forget(Collection<TopicPartition> tps) {
    int dropped = 0;
    for (TopicPartition tp : tps) {
      PartitionState s = partitions.remove(tp);
      if (s != null) {
        dropped += s.pending.size();
        IllegalStateException revoked =
            new IllegalStateException(tp + " was revoked before its transaction committed");
        s.ready.forEach(o -> fail(o, revoked));
        s.acked.values().forEach(o -> fail(o, revoked));
      }
    }
    pending -= dropped;
    return dropped;
  }

  /**
   * Forgets every partition (at close): outputs never committed fail; returns as {@link #forget}.
   */
  int forgetAll() {
    return forget(List.copyOf(partitions.keySet()));
  }

  private static void fail(Outputs outputs, Throwable why) {
    if (outputs.done() != null) {
      outputs.done().completeExceptionally(why);
    }
  }

  /** Records tracked and not yet released, over all partitions. */
  int pending() {
    return pending;
  }

  /** Delivered offsets of one partition, in order, and how far they are acknowledged. */
  static final class PartitionState {
    private final TopicPartition tp;
    private final ArrayDeque<Long> pending = new ArrayDeque<>();
    private final Map<Long, Outputs> acked = new HashMap<>();
    private final List<Outputs> ready = new ArrayList<>();
    private long commitPosition = -1;
    private boolean dirty;

    private PartitionState(TopicPartition tp) {
      this.tp = tp;
    }

    private void release(Outputs outputs) {
      if (outputs != NONE) {
        ready.add(outputs);
      }
    }
  }
}
