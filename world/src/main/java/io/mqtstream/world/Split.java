package io.mqtstream.world;

/** Train, validation and test clips come from disjoint seed ranges. */
public enum Split {
  TRAIN(0L),
  VALIDATION(1_000_000_000L),
  TEST(2_000_000_000L);

  /** Clips per split: the ranges never overlap. */
  public static final long SIZE = 1_000_000_000L;

  private final long base;

  Split(long base) {
    this.base = base;
  }

  /** The seed of the i-th clip of this split. */
  public long seed(long index) {
    if (index < 0 || index >= SIZE) {
      throw new IllegalArgumentException("clip index must be in 0.." + (SIZE - 1));
    }
    return base + index;
  }
}
