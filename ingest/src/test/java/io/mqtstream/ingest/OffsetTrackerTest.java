package io.mqtstream.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class OffsetTrackerTest {
  private static final TopicPartition P0 = new TopicPartition("frames", 0);
  private static final TopicPartition P1 = new TopicPartition("frames", 1);
  private final OffsetTracker tracker = new OffsetTracker();

  private Map<TopicPartition, Long> committable() {
    Map<TopicPartition, OffsetAndMetadata> taken = tracker.takeCommittable(null);
    return taken.entrySet().stream()
        .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
  }

  @Test
  void inOrderAcksMoveTheCommitPositionOnePastTheLastAckedOffset() {
    OffsetTracker.Position a = tracker.track(P0, 10);
    tracker.track(P0, 11);
    assertThat(tracker.ack(a)).isEqualTo(1);
    assertThat(committable()).containsExactly(Map.entry(P0, 11L));
    assertThat(tracker.pending()).isEqualTo(1);
  }

  @Test
  void anOutOfOrderAckWaitsForTheEarlierOnesThenReleasesThemAll() {
    OffsetTracker.Position a = tracker.track(P0, 0);
    OffsetTracker.Position b = tracker.track(P0, 1);
    OffsetTracker.Position c = tracker.track(P0, 2);
    assertThat(tracker.ack(c)).isZero();
    assertThat(tracker.ack(b)).isZero();
    assertThat(committable()).isEmpty(); // offset 0 still holds everything back
    assertThat(tracker.ack(a)).isEqualTo(3);
    assertThat(committable()).containsExactly(Map.entry(P0, 3L));
    assertThat(tracker.pending()).isZero();
  }

  @Test
  void gapsInTheOffsetsDoNotHoldTheCommitBack() {
    // compaction or transaction markers: offsets 5, 9, 20 are all the partition has
    OffsetTracker.Position a = tracker.track(P0, 5);
    OffsetTracker.Position b = tracker.track(P0, 9);
    OffsetTracker.Position c = tracker.track(P0, 20);
    tracker.ack(b);
    tracker.ack(c);
    assertThat(tracker.ack(a)).isEqualTo(3);
    assertThat(committable()).containsExactly(Map.entry(P0, 21L));
  }

  @Test
  void partitionsAreIndependent() {
    tracker.track(P0, 0);
    OffsetTracker.Position b = tracker.track(P1, 0);
    tracker.ack(b);
    assertThat(committable()).containsExactly(Map.entry(P1, 1L));
  }

  @Test
  void aPositionIsTakenOnceAndOfferedAgainAfterAFailedCommit() {
    tracker.ack(tracker.track(P0, 0));
    assertThat(committable()).containsExactly(Map.entry(P0, 1L));
    assertThat(committable()).isEmpty();
    tracker.retry(List.of(P0));
    assertThat(committable()).containsExactly(Map.entry(P0, 1L));
  }

  @Test
  void onlyTheNamedPartitionsAreTakenOnRevocation() {
    tracker.ack(tracker.track(P0, 0));
    tracker.ack(tracker.track(P1, 0));
    assertThat(tracker.takeCommittable(List.of(P1))).containsOnlyKeys(P1);
    assertThat(committable()).containsOnlyKeys(P0);
  }

  @Test
  void aRevokedPartitionIsForgottenAndALateAckForItIsIgnored() {
    OffsetTracker.Position a = tracker.track(P0, 0);
    tracker.track(P0, 1);
    assertThat(tracker.forget(List.of(P0))).isEqualTo(2);
    assertThat(tracker.pending()).isZero();
    assertThat(tracker.ack(a)).isZero();
    assertThat(committable()).isEmpty();
    // the partition comes back: a new incarnation, the old handle still does nothing
    OffsetTracker.Position again = tracker.track(P0, 0);
    assertThat(tracker.ack(a)).isZero();
    assertThat(tracker.ack(again)).isEqualTo(1);
    assertThat(committable()).containsExactly(Map.entry(P0, 1L));
  }

  @Test
  void aRepeatedAckReleasesNothingMore() {
    OffsetTracker.Position a = tracker.track(P0, 0);
    tracker.track(P0, 1);
    assertThat(tracker.ack(a)).isEqualTo(1);
    assertThat(tracker.ack(a)).isZero();
    assertThat(tracker.pending()).isEqualTo(1);
  }

  @Test
  void anUntrackedTailIsReadAgainAfterTheAckedPrefixIsCommitted() {
    OffsetTracker.Position a = tracker.track(P0, 0);
    tracker.track(P0, 1); // read, never handed out (a stop dropped it)
    assertThat(tracker.untrack(P0, 1)).isTrue();
    assertThat(tracker.untrack(P0, 1)).isFalse();
    tracker.ack(a);
    assertThat(committable()).containsExactly(Map.entry(P0, 1L));
    assertThat(tracker.pending()).isZero();
  }

  @Test
  void offsetsOfAPartitionMustIncrease() {
    tracker.track(P0, 5);
    assertThatThrownBy(() -> tracker.track(P0, 5)).isInstanceOf(IllegalArgumentException.class);
  }
}
