package io.mqtstream.ingest;

import java.util.ArrayDeque;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Which offsets may be committed. Records are tracked per partition in the order they were read
 * (offset order, gaps allowed: compaction and transaction markers leave holes); acknowledgements
 * come in any order; a partition's commit position is one past the last offset up to which every
 * tracked record was acknowledged. A revoked partition is forgotten, and a late acknowledgement for
 * it is ignored: its new owner reads it again.
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
    PartitionState state = p.state();
    if (partitions.get(state.tp) != state) {
      return 0; // revoked since it was read
    }
    if (state.pending.isEmpty() || state.pending.peekFirst() != p.offset()) {
      if (state.pending.contains(p.offset())) {
        state.acked.add(p.offset()); // out of order: waits for the earlier ones
      }
      return 0;
    }
    state.pending.pollFirst(); // in order, the common case: no set round-trip
    long position = p.offset() + 1;
    int released = 1;
    while (!state.pending.isEmpty() && state.acked.remove(state.pending.peekFirst())) {
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
      }
    }
    pending -= dropped;
    return dropped;
  }

  /** Records tracked and not yet released, over all partitions. */
  int pending() {
    return pending;
  }

  /** Delivered offsets of one partition, in order, and how far they are acknowledged. */
  static final class PartitionState {
    private final TopicPartition tp;
    private final ArrayDeque<Long> pending = new ArrayDeque<>();
    private final Set<Long> acked = new HashSet<>();
    private long commitPosition = -1;
    private boolean dirty;

    private PartitionState(TopicPartition tp) {
      this.tp = tp;
    }
  }
}
