package io.mqtstream.loadtest;

import static org.assertj.core.api.Assertions.assertThat;

import io.mqtstream.wire.Answer;
import org.junit.jupiter.api.Test;

class LedgerTest {

  private static Answer answer(String camera, long seq, long ts, String text, int m) {
    return new Answer(camera, seq, ts, "how many shapes are there?", text, m, 4, 0, "t");
  }

  @Test
  void countsLostLatencyAccuracyAndMFromKnownTruth() {
    Ledger ledger = new Ledger(0);
    for (long seq = 0; seq < 10; seq++) {
      ledger.published("a", seq, 100 * seq);
    }
    // frames 0..6 answered; 7, 8, 9 deliberately never
    for (long seq = 0; seq < 7; seq++) {
      long latency = 100 * (seq + 1); // 100, 200, … 700 ms
      String text = seq < 5 ? "two" : "three";
      ledger.answered(
          answer("a", seq, 1_000 * seq, text, seq < 3 ? 64 : 8), "two", 1_000 * seq + latency);
    }
    ledger.answered(
        answer("a", 3, 3_000, "two", 8), null, 3_500); // a duplicate (at-least-once), no truth
    ledger.answered(answer("b", 0, 0, "one", 2), "one", 50); // a frame this run never published
    ledger.lag(12, 2_000);
    ledger.lag(5, 3_000);

    Ledger.Summary s = ledger.summary();
    assertThat(s.framesSent()).isEqualTo(10);
    assertThat(s.lost()).isEqualTo(3);
    assertThat(s.unexpected()).isEqualTo(1);
    assertThat(s.answers()).isEqualTo(9);
    // latencies: 100..700, 500 (duplicate), 50 → sorted 50,100,200,300,400,500,500,600,700
    assertThat(s.p50()).isEqualTo(400);
    assertThat(s.p95()).isEqualTo(700);
    assertThat(s.scored()).isEqualTo(8);
    assertThat(s.accuracy()).isEqualTo(6 / 8.0); // five "two" right, two "three" wrong, b right
    assertThat(s.maxLag()).isEqualTo(12);
    assertThat(s.mHist()).containsEntry(64, 3L).containsEntry(8, 5L).containsEntry(2, 1L);
    assertThat(s.mMin()).isEqualTo(2);
    assertThat(s.mMax()).isEqualTo(64);
    assertThat(ledger.timeline().get(2L).lag()).isEqualTo(12);
    assertThat(ledger.timeline().get(0L).published()).isEqualTo(10);
  }

  @Test
  void warmUpFramesCountForLossButNotForTheFigures() {
    Ledger ledger = new Ledger(0, 10_000);
    ledger.published("a", 0, 1_000);
    ledger.published("a", 1, 11_000);
    ledger.published("a", 2, 12_000);
    ledger.answered(answer("a", 0, 1_000, "x", 2), "y", 9_000); // warm-up: slow and wrong
    ledger.answered(answer("a", 1, 11_000, "y", 64), "y", 11_200);
    Ledger.Summary s = ledger.summary();
    assertThat(s.lost()).isEqualTo(1); // frame 2
    assertThat(s.answers()).isEqualTo(1);
    assertThat(s.p99()).isEqualTo(200);
    assertThat(s.accuracy()).isEqualTo(1.0);
    assertThat(s.mMin()).isEqualTo(64);
  }

  @Test
  void nearestRankPercentiles() {
    java.util.List<Long> v = java.util.List.of(5L, 1L, 4L, 2L, 3L);
    assertThat(Ledger.percentile(v, 50)).isEqualTo(3);
    assertThat(Ledger.percentile(v, 99)).isEqualTo(5);
    assertThat(Ledger.percentile(v, 1)).isEqualTo(1);
    assertThat(Ledger.percentile(java.util.List.of(), 50)).isNaN();
  }

  @Test
  void timelyAccuracyCountsRightAnswersWithinTheDeadlineOverEveryPairUnansweredIncluded() {
    Ledger ledger = new Ledger(0, 0, 500);
    for (long seq = 0; seq < 6; seq++) {
      ledger.published("a", seq, 1_000 * seq);
    }
    // seq 0: right, 200 ms (timely); seq 1: right, 800 ms (late); seq 2: wrong, 100 ms;
    // seq 3: right, 500 ms (on the deadline: timely); seq 4: right, 300 ms; seq 5: never answered
    long[] latency = {200, 800, 100, 500, 300};
    String[] text = {"two", "two", "one", "two", "two"};
    int[] m = {64, 64, 2, 16, 2};
    for (int seq = 0; seq < 5; seq++) {
      ledger.answered(
          answer("a", seq, 1_000L * seq, text[seq], m[seq]), "two", 1_000L * seq + latency[seq]);
    }
    Ledger.Summary s = ledger.summary();
    assertThat(s.deadlineMs()).isEqualTo(500);
    assertThat(s.accuracy()).isEqualTo(4 / 5.0);
    // timely: seq 0, 3, 4 → 3 of 6 pairs (5 answered + the unanswered frame's one question)
    assertThat(s.timelyAccuracy()).isEqualTo(3 / 6.0);
    assertThat(s.inTimeShare()).isEqualTo(4 / 5.0); // all but seq 1
    assertThat(s.accuracyInTime()).isEqualTo(3 / 4.0); // seq 2 came in time, wrong
    assertThat(s.accuracyByM()).containsOnlyKeys(2, 16, 64);
    assertThat(s.accuracyByM().get(2)).isEqualTo(new Ledger.Score(2, 1));
    assertThat(s.accuracyByM().get(64)).isEqualTo(new Ledger.Score(2, 2));
  }

  @Test
  void aShedFrameIsNeitherLostNorAnsweredAndItsQuestionsCountAsMissed() {
    Ledger ledger = new Ledger(0, 0, 500);
    for (long seq = 0; seq < 4; seq++) {
      ledger.published("a", seq, 1_000 * seq);
    }
    // seq 0 and 2 answered right in time; seq 1 and 3 shed (a skip per question, no text)
    ledger.answered(answer("a", 0, 0, "two", 64), "two", 200);
    ledger.answered(answer("a", 2, 2_000, "two", 64), "two", 2_200);
    for (long seq : new long[] {1, 3}) {
      ledger.answered(
          new Answer("a", seq, 1_000 * seq, "how many shapes are there?", null, 0, 4, 5, "t", true),
          "two",
          1_000 * seq + 5);
    }
    Ledger.Summary s = ledger.summary();
    assertThat(s.lost()).isZero();
    assertThat(s.skipped()).isEqualTo(2);
    assertThat(s.answers()).isEqualTo(2);
    assertThat(s.accuracy()).isEqualTo(1.0);
    assertThat(s.mHist()).containsOnlyKeys(64); // a skip is not an answer at m = 0
    assertThat(s.timelyAccuracy()).isEqualTo(2 / 4.0);
    assertThat(s.accuracyInTime()).isEqualTo(1.0);
  }
}
