package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;

import io.mqtstream.world.SyntheticWorld;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvaluatorTest {

  @Test
  void scoresEveryClipAtEveryMAndIsRepeatable(@TempDir Path dir) throws Exception {
    TrainConfig c = TrainerTest.tiny(6);
    try (Trainer t = Trainer.create(c, dir)) {
      for (int i = 0; i < 6; i++) {
        t.step();
      }
      Evaluator e = new Evaluator(t.encoder(), t.reasoner(), new SyntheticWorld(c.world()));
      int[] clips = {0};
      Map<Integer, Evaluator.Score> a =
          e.evaluate(new int[] {2, 8}, 40, 7, done -> clips[0] = done);
      Map<Integer, Evaluator.Score> b = e.evaluate(new int[] {2, 8}, 40, 7, done -> {});
      assertThat(clips[0]).isEqualTo(40);
      assertThat(a.keySet()).containsExactly(2, 8);
      assertThat(a).isEqualTo(b);
      for (Evaluator.Score s : a.values()) {
        assertThat(s.samples()).isEqualTo(40);
        assertThat(s.accuracy()).isBetween(0.0, 1.0);
        assertThat(s.byType()).isNotEmpty();
      }
    }
  }
}
