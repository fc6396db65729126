package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class CurriculumTest {
  private final Curriculum curriculum =
      new Curriculum(List.of(new Curriculum.Stage(100, 1), new Curriculum.Stage(200, 2)));

  @Test
  void clipsHoldNoMoreObjectsThanTheStageAllowsThenTheWorldsRange() {
    WorldConfig world = WorldConfig.tiny();
    for (int[] stepAndMost : new int[][] {{0, 1}, {99, 1}, {100, 2}, {199, 2}, {200, 4}}) {
      SyntheticWorld at = new SyntheticWorld(curriculum.worldAt(stepAndMost[0], world));
      int most = 0;
      for (int i = 0; i < 300; i++) {
        most = Math.max(most, at.clip(Split.TRAIN.seed(i)).objects().size());
      }
      assertThat(most).as("most objects at step %d", stepAndMost[0]).isEqualTo(stepAndMost[1]);
    }
    assertThat(Curriculum.NONE.worldAt(0, world)).isEqualTo(world);
  }

  @Test
  void stagesMustGrowAndHoldAnObject() {
    assertThatThrownBy(
            () ->
                new Curriculum(List.of(new Curriculum.Stage(100, 1), new Curriculum.Stage(100, 2))))
        .hasMessageContaining("curriculum[1].untilStep");
    assertThatThrownBy(() -> new Curriculum(List.of(new Curriculum.Stage(100, 0))))
        .hasMessageContaining("curriculum[0].maxObjects");
  }
}
