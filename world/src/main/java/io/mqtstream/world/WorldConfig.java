package io.mqtstream.world;

import java.util.EnumSet;
import java.util.Set;

/**
 * Settings of the synthetic world.
 *
 * @param imageSize side of the frames, pixels
 * @param frames frames per clip
 * @param minObjects fewest objects in a clip
 * @param maxObjects most objects in a clip (at most one per shape-colour pair)
 * @param moving chance that an object moves
 * @param appearing chance that a clip has an object appearing after its first frame
 * @param checkered chance of a checkered (textured) background
 * @param types the question types asked
 */
public record WorldConfig(
    int imageSize,
    int frames,
    int minObjects,
    int maxObjects,
    double moving,
    double appearing,
    double checkered,
    Set<QuestionType> types) {

  public WorldConfig {
    if (imageSize < 16) {
      throw new IllegalArgumentException("world.imageSize: must be >= 16, got " + imageSize);
    }
    if (frames < 1) {
      throw new IllegalArgumentException("world.frames: must be >= 1, got " + frames);
    }
    if (minObjects < 0
        || maxObjects < minObjects
        || maxObjects > Shape.values().length * Colour.values().length) {
      throw new IllegalArgumentException("world.minObjects/maxObjects: need 0 <= min <= max <= 15");
    }
    types =
        types == null || types.isEmpty()
            ? EnumSet.allOf(QuestionType.class)
            : EnumSet.copyOf(types);
  }

  /** The world of the {@code mqt-tiny} preset: 64×64 clips of 4 frames, 1 to 4 objects. */
  public static WorldConfig tiny() {
    return new WorldConfig(64, 4, 1, 4, 0.6, 0.3, 0.3, null);
  }
}
