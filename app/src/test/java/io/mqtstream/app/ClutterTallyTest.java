package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.mqtstream.training.Evaluator;
import io.mqtstream.world.Clip;
import io.mqtstream.world.Colour;
import io.mqtstream.world.Question;
import io.mqtstream.world.QuestionType;
import io.mqtstream.world.SceneObject;
import io.mqtstream.world.Shape;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.awt.Color;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClutterTallyTest {
  private static final SyntheticWorld WORLD = new SyntheticWorld(WorldConfig.tiny());

  private static SceneObject still(Shape shape, Colour colour, double x, double y) {
    return new SceneObject(shape, colour, false, x, y, 0, 0, 0, Integer.MAX_VALUE);
  }

  /** A red circle and a red square on the left, a blue circle on the right, a white triangle. */
  private static Clip crowded() {
    return new Clip(
        1,
        64,
        4,
        Color.DARK_GRAY,
        false,
        List.of(
            still(Shape.CIRCLE, Colour.RED, 12, 12),
            still(Shape.SQUARE, Colour.RED, 12, 50),
            still(Shape.CIRCLE, Colour.BLUE, 50, 12),
            still(Shape.TRIANGLE, Colour.WHITE, 50, 50)));
  }

  private static Question about(Clip clip, QuestionType type, String contains) {
    return WORLD.questions(clip).stream()
        .filter(q -> q.type() == type && q.text().contains(contains))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void aNamedObjectIsClassedByWhatItSharesWithTheOthersThere() {
    Clip clip = crowded();
    List<SceneObject> there = clip.visibleAt(3);
    // the world's own questions, so the names are the ones the model is asked
    assertThat(
            ClutterTally.lookalike(about(clip, QuestionType.POSITION, "red circle").text(), there))
        .contains("same colour and shape"); // red square: colour; blue circle: shape
    assertThat(
            ClutterTally.lookalike(about(clip, QuestionType.POSITION, "red square").text(), there))
        .contains("same colour");
    assertThat(
            ClutterTally.lookalike(about(clip, QuestionType.POSITION, "blue circle").text(), there))
        .contains("same shape");
    assertThat(
            ClutterTally.lookalike(
                about(clip, QuestionType.POSITION, "white triangle").text(), there))
        .contains("alone");
    assertThat(
            ClutterTally.lookalike(about(clip, QuestionType.EXISTS, "green square").text(), there))
        .contains("not there");
    assertThat(ClutterTally.lookalike(about(clip, QuestionType.EXISTS, "red circle").text(), there))
        .contains("same colour and shape");
    // questions that name no object are not classed
    assertThat(ClutterTally.lookalike(about(clip, QuestionType.COUNT_ALL, "").text(), there))
        .isEmpty();
    assertThat(
            ClutterTally.lookalike(about(clip, QuestionType.COLOUR_OF, "triangle").text(), there))
        .isEmpty();
    assertThat(ClutterTally.lookalike(about(clip, QuestionType.COUNT_COLOUR, "red").text(), there))
        .isEmpty();
  }

  @Test
  void itCountsRightAndAskedAtItsMOnlyByObjectsThereAndByLookalike() {
    Clip crowded = crowded();
    Clip lone =
        new Clip(2, 64, 4, Color.GRAY, false, List.of(still(Shape.SQUARE, Colour.GREEN, 12, 32)));
    // an object that leaves before the last frame is not there
    Clip leaving =
        new Clip(
            3,
            64,
            4,
            Color.GRAY,
            false,
            List.of(
                still(Shape.SQUARE, Colour.GREEN, 12, 32),
                new SceneObject(Shape.SQUARE, Colour.YELLOW, false, 50, 32, 0, 0, 0, 2)));
    Question crowdedWhere = about(crowded, QuestionType.POSITION, "red square");
    Question loneWhere = about(lone, QuestionType.POSITION, "green square");
    Question leavingWhere = about(leaving, QuestionType.POSITION, "green square");
    Question crowdedCount = about(crowded, QuestionType.COUNT_ALL, "");
    ClutterTally tally = new ClutterTally(16);
    tally.accept(new Evaluator.Answer(16, crowded, crowdedWhere, crowdedWhere.answer()));
    tally.accept(new Evaluator.Answer(16, crowded, crowdedWhere, "top")); // wrong whatever it asks
    tally.accept(new Evaluator.Answer(16, lone, loneWhere, loneWhere.answer()));
    tally.accept(new Evaluator.Answer(16, leaving, leavingWhere, "nothing"));
    tally.accept(new Evaluator.Answer(16, crowded, crowdedCount, crowdedCount.answer()));
    tally.accept(new Evaluator.Answer(4, lone, loneWhere, "nothing")); // another m: not counted

    assertThat(tally.byObjects()).containsOnlyKeys("position", "count_all");
    assertThat(tally.byObjects().get("position")).containsOnlyKeys(1, 4);
    assertThat(tally.byObjects().get("position").get(4)).containsExactly(1, 2);
    assertThat(tally.byObjects().get("position").get(1)).containsExactly(1, 2);
    assertThat(tally.byObjects().get("count_all").get(4)).containsExactly(1, 1);
    assertThat(tally.byLookalike()).containsOnlyKeys("position");
    assertThat(tally.byLookalike().get("position")).containsOnlyKeys("same colour", "alone");
    assertThat(tally.byLookalike().get("position").get("same colour")).containsExactly(1, 2);
    assertThat(tally.byLookalike().get("position").get("alone")).containsExactly(1, 2);
    assertThat(tally.report())
        .contains("at m=16")
        .contains("position: 1 objects 50.0% (1/2); 4 objects 50.0% (1/2); alone 50.0% (1/2);")
        .contains("count_all: 4 objects 100.0% (1/1)");
  }
}
