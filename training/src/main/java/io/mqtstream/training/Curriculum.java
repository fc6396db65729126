package io.mqtstream.training;

import io.mqtstream.world.WorldConfig;
import java.util.List;

/**
 * A curriculum over object counts: until a stage's step, clips hold at most that stage's number of
 * objects; after the last stage, the world's own range. Position and direction are learnt from one
 * object in a few hundred steps but not from several (model card, "Evidence gathered on the way"),
 * so a run can first learn to read where an object is, then which object is asked about.
 *
 * @param stages in increasing {@code untilStep}; empty for none
 */
public record Curriculum(List<Stage> stages) {

  /** No curriculum: every step draws from the world's own range. */
  public static final Curriculum NONE = new Curriculum(List.of());

  /**
   * @param untilStep the first step after this stage
   * @param maxObjects the most objects a clip holds before {@code untilStep}
   */
  public record Stage(int untilStep, int maxObjects) {}

  public Curriculum {
    stages = List.copyOf(stages);
    int previous = 0;
    for (int i = 0; i < stages.size(); i++) {
      Stage s = stages.get(i);
      if (s.untilStep() <= previous) {
        throw new IllegalArgumentException(
            "curriculum[" + i + "].untilStep: must grow from stage to stage and be >= 1");
      }
      if (s.maxObjects() < 1) {
        throw new IllegalArgumentException("curriculum[" + i + "].maxObjects: must be >= 1");
      }
      previous = s.untilStep();
    }
  }

  /** The world a step draws its clips from. */
  public WorldConfig worldAt(int step, WorldConfig world) {
    for (Stage s : stages) {
      if (step < s.untilStep()) {
        int max = Math.min(s.maxObjects(), world.maxObjects());
        return new WorldConfig(
            world.imageSize(),
            world.frames(),
            Math.min(world.minObjects(), max),
            max,
            world.moving(),
            world.appearing(),
            world.checkered(),
            world.types());
      }
    }
    return world;
  }
}
