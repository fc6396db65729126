package io.mqtstream.world;

import java.util.Random;
import java.util.SplittableRandom;

/**
 * Random generators for numbered things (clip i, step i). {@code new Random(i)} for consecutive i
 * is badly correlated: its first {@code nextInt(8)} took only the values 0 and 1 over 500
 * consecutive seeds, and a "uniform" draw of m over 2..64 hit 8 values. The seed is mixed first.
 */
public final class Seeds {
  private Seeds() {}

  /** A generator for (a, b), e.g. (run seed, step), whose draws do not follow from neighbours'. */
  public static Random random(long a, long b) {
    return new Random(new SplittableRandom(a * 0x9E3779B97F4A7C15L + b).nextLong());
  }

  public static Random random(long seed) {
    return random(seed, 0);
  }
}
